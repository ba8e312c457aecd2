"""An order as the emulator keeps it (its lines, packages and status history) and its shape in Orders v2026-01-01,
with the `includedData` sections a request asks for."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from amazon_orders_pipeline.emulator import order_sections
from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.order_sections import Sections
from amazon_orders_pipeline.emulator.values import iso, money

# The longest an order keeps changing after it was created: windows look back this far for candidates.
MAX_ORDER_LIFETIME = timedelta(days=5)


def seller_tag(seller: str) -> int:
    """The two digits that set a seller's order ids apart from another's on the same day (so 100 sellers at most
    can share a warehouse without two of them having the same order id)."""
    return int.from_bytes(hashlib.sha256(seller.encode()).digest()[:2], "big") % 100


@dataclass(frozen=True)
class Line:
    order_item_id: str
    sku: str
    asin: str
    title: str
    quantity: int
    unit_price: Decimal
    shipping: Decimal
    tax: Decimal  # all of the line's tax, net of the tax on its discounts
    discount: Decimal  # the item promotion, a positive number; served within a negative DISCOUNT subtotal
    promotion_ids: tuple[str, ...] = ()
    shipping_discount: Decimal = Decimal(0)  # a shipping promotion (free shipping), also within DISCOUNT
    gift_wrap: Decimal = Decimal(0)
    cod_fee: Decimal = Decimal(0)  # cash on delivery (JP only)
    cod_fee_discount: Decimal = Decimal(0)  # a COD fee waived

    @property
    def item_amount(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def discounts(self) -> Decimal:
        """Every promotional discount of the line (Amazon's DISCOUNT subtotal, v0's PromotionDiscount)."""
        return self.discount + self.shipping_discount

    @property
    def proceeds_total(self) -> Decimal:
        return (self.item_amount + self.shipping + self.gift_wrap + self.cod_fee - self.cod_fee_discount + self.tax
                - self.discounts)


@dataclass(frozen=True)
class Package:
    """A package the seller confirmed as shipped (confirmShipment): its items and quantities from `shipped_at`."""

    reference_id: str
    shipped_at: datetime
    carrier_code: str
    tracking_number: str
    items: tuple[tuple[str, int], ...]  # (orderItemId, quantity)


@dataclass(frozen=True)
class OrderHistory:
    """One order from creation to its last change: the emulator answers any query from these."""

    order_id: str
    seller: str
    marketplace_id: str
    created_at: datetime
    fulfilled_by: str  # AMAZON | MERCHANT
    events: tuple[tuple[datetime, str], ...]  # (time, fulfillmentStatus), ascending; the first is creation
    lines: tuple[Line, ...]
    programs: tuple[str, ...]
    buyer_name: str
    buyer_email: str
    address: dict = field(hash=False, compare=False)
    access_point: bool = False  # delivered to an Amazon Hub locker or counter, or a carrier's pickup point
    packages: tuple[Package, ...] = ()  # confirmed by the seller; empty for the generated histories
    sales_channel: str = "AMAZON"  # NON_AMAZON: a Multi-Channel Fulfillment order (emulator/fulfillment.py)
    sections: Sections = Sections()  # tax collection, registrations, payment, points, carrier (order_sections.py)

    def shipped_quantity(self, line: Line, status: str, as_of: datetime) -> int:
        """The units of a line shipped as of a moment: the seller's confirmed packages where there are any, else
        all of them once the (generated) order is SHIPPED."""
        if self.packages:
            return sum(q for p in self.packages if p.shipped_at <= as_of
                       for item_id, q in p.items if item_id == line.order_item_id)
        return line.quantity if status == "SHIPPED" else 0

    def state_as_of(self, as_of: datetime) -> tuple[datetime, str] | None:
        """(lastUpdatedTime, status) as of a moment, or None if the order does not exist yet."""
        current = None
        for ts, status in self.events:
            if ts > as_of:
                break
            current = (ts, status)
        return current

    def had_money(self, as_of: datetime) -> bool:
        """Pending orders carry no money; once past Pending they do, even if cancelled later."""
        return any(s not in ("PENDING", "PENDING_AVAILABILITY", "CANCELLED") for t, s in self.events if t <= as_of)

    @property
    def currency(self) -> str:
        return MARKETPLACES[self.marketplace_id][1]

    def _item(self, n: int, line: Line, status: str, as_of: datetime, has_money: bool, currency: str,
              tax: dict | None) -> dict:
        """One of the order's items as of a moment, with every section (`tax`: the order's item tax section)."""
        fulfilled = self.shipped_quantity(line, status, as_of)
        item: dict = {
            "orderItemId": line.order_item_id,
            "quantityOrdered": line.quantity,
            "product": {
                "asin": line.asin,
                "title": line.title,
                "sellerSku": line.sku,
                "condition": {"conditionType": "NEW", "conditionSubtype": "NEW", "conditionNote": ""},
            },
            "fulfillment": {
                "quantityFulfilled": fulfilled,
                "quantityUnfulfilled": line.quantity - fulfilled,
            },
        }
        if has_money:
            item["product"]["price"] = {"unitPrice": money(line.unit_price, currency)}
            item["proceeds"] = {"proceedsTotal": money(line.proceeds_total, currency),
                                "breakdowns": proceeds_breakdowns(line, currency)}
        if tax:
            item["tax"] = tax
        points = self.sections.points_of(n)
        if has_money and points:
            item["expense"] = {"pointsCost": {"pointsGranted": {
                "pointsNumber": points, "pointsMonetaryValue": money(Decimal(points), currency)}}}
        if line.gift_wrap:
            item["fulfillment"]["packing"] = {"giftOption": {"giftWrapLevel": GIFT_WRAP_LEVEL,
                                                             "giftMessage": GIFT_MESSAGE}}
        if line.promotion_ids:
            item["promotion"] = {"breakdowns": [{"promotionId": p} for p in line.promotion_ids]}
        if status == "CANCELLED":
            item["cancellation"] = {
                "cancellationExecution": {"cancelledBy": "BUYER", "cancelReason": "Ordered by mistake"}
            }
        return item

    def to_api(self, as_of: datetime) -> dict | None:
        """The full v2026 Order (every includedData section) as of a moment."""
        state = self.state_as_of(as_of)
        if state is None:
            return None
        updated_at, status = state
        name, currency, _, country, _, _, _ = MARKETPLACES[self.marketplace_id]
        has_money = self.had_money(as_of)
        tax = order_sections.item_tax(self.sections, country)
        items = [self._item(n, line, status, as_of, has_money, currency, tax) for n, line in enumerate(self.lines)]
        order: dict = {
            "orderId": self.order_id,
            "createdTime": iso(self.created_at),
            "lastUpdatedTime": iso(updated_at),
            "programs": list(self.programs),
            "salesChannel": {"channelName": self.sales_channel, "marketplaceId": self.marketplace_id,
                             **({"marketplaceName": name} if self.sales_channel == "AMAZON" else {})},
            "buyer": {"buyerName": self.buyer_name},
            "recipient": {"deliveryAddress": {**self.address, "addressType": "PICKUP_POINT"} if self.access_point
                          else dict(self.address)},
            "fulfillment": {
                "fulfillmentStatus": status,
                "fulfilledBy": self.fulfilled_by,
                "fulfillmentServiceLevel": "STANDARD",
                "shipByWindow": {
                    "earliestDateTime": iso(self.created_at),
                    "latestDateTime": iso(self.created_at + timedelta(days=2)),
                },
                "deliverByWindow": {
                    "earliestDateTime": iso(self.created_at + timedelta(days=3)),
                    "latestDateTime": iso(self.created_at + timedelta(days=6)),
                },
            },
            "orderItems": items,
        }
        # Buyer email: FBM orders past Pending only, as Amazon documents.
        if self.fulfilled_by == "MERCHANT" and status in ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"):
            order["buyer"]["buyerEmail"] = self.buyer_email
        if has_money:
            total = sum((line.proceeds_total for line in self.lines), Decimal(0))
            order["proceeds"] = {"grandTotal": money(total, currency)}
            if self.sections.payment_method:
                order["payment"] = {"paymentExecutions": [{"paymentMethod": self.sections.payment_method,
                                                           "paymentAmount": money(total, currency)}]}
        if registrations := order_sections.order_tax(self, country):
            order["tax"] = registrations
        if packages := order_sections.packages(self, status, as_of):
            order["packages"] = packages
        return order


GIFT_WRAP_LEVEL = "Classic"
GIFT_MESSAGE = "Happy birthday!"


def proceeds_breakdowns(line: Line, currency: str) -> list[dict]:
    """An item's proceeds by type, as v2026 gives them; they add up to its proceedsTotal. DISCOUNT is every
    promotional discount of the line, its item and shipping parts as details."""
    out = [{"type": "ITEM", "subtotal": money(line.item_amount, currency)}]
    if line.shipping:
        out.append({"type": "SHIPPING", "subtotal": money(line.shipping, currency)})
    if line.gift_wrap:
        out.append({"type": "GIFT_WRAP", "subtotal": money(line.gift_wrap, currency)})
    if line.cod_fee:
        # Net of a waived fee: a waiver is not a promotion (v0 keeps it apart, as CODFeeDiscount).
        out.append({"type": "COD_FEE", "subtotal": money(line.cod_fee - line.cod_fee_discount, currency)})
    out.append({"type": "TAX", "subtotal": money(line.tax, currency)})
    if line.discounts:
        details = [{"subtype": subtype, "value": money(-amount, currency)}
                   for subtype, amount in (("ITEM", line.discount), ("SHIPPING", line.shipping_discount)) if amount]
        out.append({"type": "DISCOUNT", "subtotal": money(-line.discounts, currency), "detailedBreakdowns": details})
    return out


# Sections of an Order that only come back when `includedData` names them.
INCLUDED_SECTIONS = {
    "BUYER": ("buyer",),
    "RECIPIENT": ("recipient",),
    "PROCEEDS": ("proceeds",),
    "FULFILLMENT": ("fulfillment",),
    "TAX": ("tax",),
    "PAYMENT": ("payment",),
    "PACKAGES": ("packages",),
    "FULFILLMENT_ORDERS": ("fulfillmentOrders",),
}
ITEM_SECTIONS = {"PROCEEDS": "proceeds", "PROMOTION": "promotion", "CANCELLATION": "cancellation", "TAX": "tax",
                 "EXPENSE": "expense"}


def filter_included(order: dict, included: set[str]) -> dict:
    """Drop the sections a request did not ask for; 'basic information' always stays."""
    out = dict(order)
    for key, sections in INCLUDED_SECTIONS.items():
        if key not in included:
            for s in sections:
                out.pop(s, None)
    items = []
    for item in order["orderItems"]:
        item = dict(item)
        for key, section in ITEM_SECTIONS.items():
            if key not in included:
                item.pop(section, None)
        if "FULFILLMENT" not in included:
            item.pop("fulfillment", None)
        items.append(item)
    out["orderItems"] = items
    return out
