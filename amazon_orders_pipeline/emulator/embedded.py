"""The emulator a pipeline talks to when an account has no credentials: started once per process, with its
conventions for such an account's refresh token and selling partner id."""

from __future__ import annotations

import threading

from amazon_orders_pipeline.emulator.auth import seller_key

_embedded_lock = threading.Lock()
_embedded_emulator = None


def embedded_emulator_url(speed: float) -> str:
    """Start (once per process) an in-process emulator for accounts that have no credentials."""
    global _embedded_emulator
    with _embedded_lock:
        if _embedded_emulator is None:
            from amazon_orders_pipeline.emulator.server import Emulator

            _embedded_emulator = Emulator(speed=speed).start()
        return _embedded_emulator.url


def emulator_refresh_token(account_id: str) -> str:
    """What an account without credentials sends the emulator: each account is its own synthetic seller."""
    return f"emulator-refresh-{account_id}"


def emulator_seller_id(account_id: str) -> str:
    """The selling partner id the emulator gives an account without credentials (ORDER_CHANGE's SellerId)."""
    from amazon_orders_pipeline.emulator.publishing import selling_partner_id

    return selling_partner_id(seller_key(emulator_refresh_token(account_id)))
