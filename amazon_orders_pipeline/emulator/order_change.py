"""ORDER_CHANGE as Amazon publishes it: the payload (OrderChangeNotification.json), each change's delivery (when
it is sent, and whether it is lost, duplicated or late), and the seller id it names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from amazon_orders_pipeline.emulator.orders import OrderHistory

ORDER_CHANGE = "ORDER_CHANGE"
# The publisher's test application, as Amazon names solutions.
APPLICATION_ID = "amzn1.sp.solution.6f5c7a52-emul-4a0b-9e1d-000000000001"
# v2026 fulfillmentStatus -> ORDER_CHANGE's v0 OrderStatus.
V0_STATUS = {"PENDING": "Pending", "UNSHIPPED": "Unshipped", "PARTIALLY_SHIPPED": "PartiallyShipped",
             "SHIPPED": "Shipped", "CANCELLED": "Canceled", "UNFULFILLABLE": "Unfulfillable",
             "PENDING_AVAILABILITY": "PendingAvailability"}
PROGRAMS = {"PRIME": "Prime", "AMAZON_BUSINESS": "Business"}

@dataclass
class NotificationFaults:
    """How delivery goes wrong, per change: lost, duplicated (sent twice, the copy later), or late (held back
    `late_s` more). A change's publish delay is drawn from `delay_s`; one published example took 3.4 minutes."""

    lost: float = 0.0
    duplicated: float = 0.0
    late: float = 0.0
    delay_s: tuple[float, float] = (6.0, 240.0)
    late_s: tuple[float, float] = (600.0, 3600.0)

    @classmethod
    def from_dict(cls, data: dict) -> NotificationFaults:
        known = {"lost", "duplicated", "late", "delay_s", "late_s"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown notification faults {sorted(unknown)}")
        out = cls(**{k: (tuple(v) if k.endswith("_s") else float(v)) for k, v in data.items()})
        if not all(0 <= p <= 1 for p in (out.lost, out.duplicated, out.late)):
            raise ValueError("fault rates are between 0 and 1")
        return out

    def to_dict(self) -> dict:
        return {"lost": self.lost, "duplicated": self.duplicated, "late": self.late,
                "delay_s": list(self.delay_s), "late_s": list(self.late_s)}


@dataclass(frozen=True)
class Delivery:
    """One message to send: a change of an order, at its publish time."""

    at: datetime
    history: OrderHistory
    changed_at: datetime
    status: str
    notification_id: str
    copy: int = 0


@dataclass
class Published:
    """What was sent and what was not, for tests and benchmarks."""

    sent: list[dict] = field(default_factory=list)  # {order_id, changed_at, publish_time, notification_id, copy}
    lost: list[dict] = field(default_factory=list)


def unit(*parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:6], "big") / float(1 << 48)


def _iso_ms(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def selling_partner_id(seller: str) -> str:
    """The merchant id Amazon gives a seller (`SellerId` in notifications): 14 upper-case letters and digits."""
    digest = hashlib.sha256(f"merchant:{seller}".encode()).hexdigest().upper()
    return "A" + digest[:13]


def order_change(delivery: Delivery, subscription_id: str) -> dict:
    """An ORDER_CHANGE notification as Amazon publishes it (OrderChangeNotification.json): v0 vocabulary, items
    with SKU and quantity, no money."""
    o = delivery.history
    buyer_cancel = delivery.status == "CANCELLED" and len(o.events) > 2
    summary: dict = {
        "MarketplaceId": o.marketplace_id,
        "OrderStatus": V0_STATUS[delivery.status],
        "PurchaseDate": _iso_ms(o.created_at),
        "DestinationPostalCode": None,
        "FulfillmentType": "AFN" if o.fulfilled_by == "AMAZON" else "MFN",
        "OrderType": "StandardOrder",
        "OrderPrograms": [PROGRAMS[p] for p in o.programs if p in PROGRAMS],
        "ShippingPrograms": [],
        "OrderItems": [{"OrderItemId": line.order_item_id, "SellerSKU": line.sku, "SupplySourceId": None,
                        "Quantity": line.quantity} for line in o.lines],
    }
    return {
        "NotificationVersion": "1.0",
        "NotificationType": ORDER_CHANGE,
        "PayloadVersion": "1.0",
        "EventTime": _iso_ms(delivery.at),
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": selling_partner_id(o.seller),
            "AmazonOrderId": o.order_id,
            "OrderChangeType": "BuyerRequestedChange" if buyer_cancel else "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": _iso_ms(delivery.changed_at),
                                   "ChangeReason": "Buyer Requested Cancel" if buyer_cancel
                                   else "Order Status Change"},
            "Summary": summary,
        }},
        "NotificationMetadata": {
            "ApplicationId": APPLICATION_ID,
            "SubscriptionId": subscription_id,
            "PublishTime": _iso_ms(delivery.at),
            "NotificationId": delivery.notification_id,
        },
    }
