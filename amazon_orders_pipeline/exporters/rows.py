"""What the exporters read from the marts: one order (with its address) and its lines, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Fields that are personal data: exported only when the account has PII on (DESIGN.md decision 9).
PII_FIELDS = ("recipient_name", "address_line1", "address_line2", "address_line3", "postal_code", "phone",
              "buyer_name", "buyer_email")


@dataclass(frozen=True)
class OrderRow:
    account_id: str
    order_id: str
    marketplace_id: str | None
    purchased_at: datetime
    last_updated_at: datetime
    order_status: str
    fulfilled_by: str | None
    order_total_amount: Decimal | None
    currency_code: str | None
    city: str | None = None
    state_or_region: str | None = None
    country_code: str | None = None
    recipient_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    buyer_name: str | None = None
    buyer_email: str | None = None

    def pii(self, allowed: bool, name: str) -> str | None:
        """A PII field's value, or None unless PII is allowed for the account."""
        if name not in PII_FIELDS:
            raise KeyError(f"{name!r} is not one of the PII fields {PII_FIELDS}")
        return getattr(self, name) if allowed else None


@dataclass(frozen=True)
class LineRow:
    order_id: str
    order_item_id: str
    sku: str | None
    quantity_ordered: int
    unit_price_amount: Decimal | None
    line_total_amount: Decimal | None
    currency_code: str | None
