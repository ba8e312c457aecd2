"""Values as the SP-API writes them: times in UTC with a Z, money as a decimal string with its currency."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": str(amount), "currencyCode": currency}
