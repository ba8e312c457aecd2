"""The local SP-API emulator: the default, credential-free source of orders."""

from __future__ import annotations

__all__ = ["Emulator"]


def __getattr__(name: str):
    # The server (every API and backend) loads when first asked for, not when a pipeline module imports the
    # embedded emulator's conventions.
    if name == "Emulator":
        from amazon_orders_pipeline.emulator.server import Emulator

        return Emulator
    raise AttributeError(name)
