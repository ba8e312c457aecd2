"""What the exporters read from the marts: one order (with its address) and its lines, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

# Fields that are personal data: exported only when the account has PII on (DESIGN.md decision 9).
PII_FIELDS = ("recipient_name", "address_line1", "address_line2", "address_line3", "postal_code", "phone",
              "buyer_name", "buyer_email", "buyer_legal_name", "buyer_tax_registration_type",
              "buyer_tax_registration_number")


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
    is_business: bool | None = None
    purchase_date_local: date | None = None
    # The business buyer's tax registration (order_tax_registrations, entity BUYER: there only with PII on).
    buyer_legal_name: str | None = None
    buyer_tax_registration_type: str | None = None
    buyer_tax_registration_number: str | None = None

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
    tax_amount: Decimal | None = None
    # MARKETPLACE where Amazon collects and remits the tax, SELLER where the seller does; None where the source
    # does not say (an order report).
    tax_collected_by: str | None = None
    tax_responsible_party: str | None = None

    @property
    def tax_liability(self) -> Decimal | None:
        """The tax the seller owes on the line: none where Amazon is the marketplace facilitator, unknown (None)
        where the source does not say who collects it."""
        if self.tax_collected_by == "MARKETPLACE":
            return Decimal(0)
        return self.tax_amount if self.tax_collected_by == "SELLER" else None
