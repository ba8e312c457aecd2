"""The emulator's test-only endpoints (/_emulator/*), over HTTP like any other client."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import requests

from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.testing.emulator_process import EmulatorProcess


class EmulatorControl:
    """The emulator's test-only endpoints, over HTTP like any other client."""

    def __init__(self, emulator: Emulator | EmulatorProcess):
        self.emulator = emulator
        self.url = emulator.url

    def set_clock(self, now: datetime) -> None:
        requests.post(f"{self.url}/_emulator/clock", json={"now": now.isoformat()}, timeout=10).raise_for_status()

    def faults(self, **plan) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=plan, timeout=10).raise_for_status()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_emulator/stats", timeout=10).json()

    def merchant(self) -> dict:
        """The seller's actions: packages created and edited per "order/packageReferenceId", orders cancelled."""
        return requests.get(f"{self.url}/_emulator/merchant", timeout=10).json()

    def ground_truth(self, refresh_token: str, start: datetime, end: datetime, marketplace_ids=None) -> list[dict]:
        resp = requests.post(f"{self.url}/_emulator/ground_truth", json={
            "refresh_token": refresh_token, "last_updated_after": start.isoformat(),
            "last_updated_before": end.isoformat(), "marketplace_ids": list(marketplace_ids or [])}, timeout=60)
        resp.raise_for_status()
        return resp.json()["orders"]

    def money_truth(self, account_id: str, start: datetime, end: datetime, marketplace_ids=None) -> dict:
        """The account's money posted in [start, end) and listed now: orders, fees without an order, settlements."""
        resp = requests.post(f"{self.url}/_emulator/money_truth", json={
            "refresh_token": emulator_refresh_token(account_id), "posted_after": start.isoformat(),
            "posted_before": end.isoformat(), "marketplace_ids": list(marketplace_ids or [])}, timeout=120)
        resp.raise_for_status()
        return resp.json()

    def returns_truth(self, account_id: str, start: datetime, end: datetime, marketplace_ids=None) -> list[dict]:
        """The account's return rows (both reports) whose report date falls in [start, end), as listed now."""
        resp = requests.post(f"{self.url}/_emulator/returns_truth", json={
            "refresh_token": emulator_refresh_token(account_id), "after": start.isoformat(),
            "before": end.isoformat(), "marketplace_ids": list(marketplace_ids or [])}, timeout=120)
        resp.raise_for_status()
        return resp.json()["returns"]

    def ground_truth_day(self, account_id: str, day: date, marketplace_ids=None) -> list[dict]:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return self.ground_truth(emulator_refresh_token(account_id), start, start + timedelta(days=1),
                                 marketplace_ids)
