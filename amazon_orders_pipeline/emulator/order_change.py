"""ORDER_CHANGE as Amazon publishes it: the payload (OrderChangeNotification.json) and an order's messages, one per
change of its history (publishing.py draws each one's delay and fate)."""

from __future__ import annotations

import json
from datetime import date

from amazon_orders_pipeline.emulator.errors import invalid
from amazon_orders_pipeline.emulator.orders import MAX_ORDER_LIFETIME, OrderHistory
from amazon_orders_pipeline.emulator.publishing import (
    APPLICATION_ID,
    Delivery,
    NotificationFaults,
    deliveries,
    is_lost,
    iso_ms,
    selling_partner_id,
)

ORDER_CHANGE = "ORDER_CHANGE"
# v2026 fulfillmentStatus -> ORDER_CHANGE's v0 OrderStatus.
V0_STATUS = {"PENDING": "Pending", "UNSHIPPED": "Unshipped", "PARTIALLY_SHIPPED": "PartiallyShipped",
             "SHIPPED": "Shipped", "CANCELLED": "Canceled", "UNFULFILLABLE": "Unfulfillable",
             "PENDING_AVAILABILITY": "PendingAvailability"}
PROGRAMS = {"PRIME": "Prime", "AMAZON_BUSINESS": "Business"}


class OrderChanges:
    """ORDER_CHANGE for the publisher (notifications.py): its subscription rule, the messages of the orders created
    on a day, who may see them, and their payload."""

    name = ORDER_CHANGE
    # An order changes for this long after the day it was created.
    lookback = MAX_ORDER_LIFETIME

    def __init__(self, state) -> None:
        self.state = state

    def check_directive(self, directive: object) -> None:
        event_filter = directive.get("eventFilter") if isinstance(directive, dict) else None
        if not isinstance(event_filter, dict):
            # What Amazon answers for ORDER_CHANGE without one (jlevers/selling-partner-api#885).
            raise invalid("Processing Directive eventFilter must not be empty")
        if event_filter.get("eventFilterType") != ORDER_CHANGE or "marketplaceIds" in event_filter:
            raise invalid(f"EventFilter Payload {json.dumps(event_filter)} failed to validate")

    def of_day(self, seller: str, day: date, faults: NotificationFaults) -> list[Delivery]:
        with self.state._lock:
            orders = self.state.seller.orders_created_on(seller, day)
        return [d for o in orders for d in order_deliveries(self.state.seller.seed, faults, o)]

    def visible(self, seller: str, delivery: Delivery) -> bool:
        return self.state.in_region(seller, delivery.subject)

    def payload(self, delivery: Delivery, seller: str, subscription_id: str) -> dict:
        return order_change(delivery, subscription_id)


def order_deliveries(seed: int, faults: NotificationFaults, history: OrderHistory) -> list[Delivery]:
    """The messages Amazon sends for an order's changes, with their publish times (lost ones excluded)."""
    return [d for ts, status in history.events
            for d in deliveries(seed, faults, history.order_id, history, ts, status)]


def lost_changes(seed: int, faults: NotificationFaults, history: OrderHistory) -> list:
    """The changes of an order whose notification is lost."""
    return [ts for ts, _ in history.events if is_lost(seed, faults, history.order_id, ts)]


def order_change(delivery: Delivery, subscription_id: str) -> dict:
    """An ORDER_CHANGE notification as Amazon publishes it (OrderChangeNotification.json): v0 vocabulary, items
    with SKU and quantity, no money."""
    o: OrderHistory = delivery.subject
    buyer_cancel = delivery.status == "CANCELLED" and len(o.events) > 2
    summary: dict = {
        "MarketplaceId": o.marketplace_id,
        "OrderStatus": V0_STATUS[delivery.status],
        "PurchaseDate": iso_ms(o.created_at),
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
        "EventTime": iso_ms(delivery.at),
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": selling_partner_id(o.seller),
            "AmazonOrderId": o.order_id,
            "OrderChangeType": "BuyerRequestedChange" if buyer_cancel else "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": iso_ms(delivery.changed_at),
                                   "ChangeReason": "Buyer Requested Cancel" if buyer_cancel
                                   else "Order Status Change"},
            "Summary": summary,
        }},
        "NotificationMetadata": {
            "ApplicationId": APPLICATION_ID,
            "SubscriptionId": subscription_id,
            "PublishTime": iso_ms(delivery.at),
            "NotificationId": delivery.notification_id,
        },
    }
