"""The seller's own actions on its merchant-fulfilled orders: confirmShipment (Orders v0) and the cancellations an
order acknowledgement feed carries (emulator/feeds.py). Each changes the order's history from the moment it takes
effect: the generated changes after it are gone, and the searches, getOrder, getOrders and the reports then show
the order shipped or cancelled."""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.errors import ApiError, json_object
from amazon_orders_pipeline.emulator.orders import OrderHistory, Package

CONFIRM_PATH_RE = re.compile(r"^/orders/v0/orders/([^/]+)/shipmentConfirmation$")
POSITIVE_NUMBER_RE = re.compile(r"^[1-9]\d{0,17}$")
# ISO 8601 date-times as the model's `date-time` format takes them (the sandbox refuses "02/21/2022").
DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
SHIPPABLE = ("UNSHIPPED", "PARTIALLY_SHIPPED")


def invalid_input(details: str | None = None) -> ApiError:
    """confirmShipment's 400, as its sandbox answers: code and message "Invalid Input" (with a space)."""
    return ApiError(400, "Invalid Input", "Invalid Input", details)


def trimmed(history: OrderHistory, at: datetime) -> list[tuple[datetime, str]]:
    """The order's changes before `at`: what happened; the generated ones after it no longer will."""
    return [(ts, status) for ts, status in history.events if ts < at]


def with_change(history: OrderHistory, at: datetime, status: str, **changes) -> OrderHistory:
    events = trimmed(history, at)
    if events and events[-1][0] >= at:  # same second as the last change: one second later
        at = events[-1][0] + timedelta(seconds=1)
    return replace(history, events=tuple([*events, (at, status)]), **changes)


class Merchant:
    """What the seller did, and counts of it that tests read: packages created and edited per (order, reference)."""

    def __init__(self, state):
        self.state = state
        self.creates: Counter[tuple[str, str]] = Counter()
        self.edits: Counter[tuple[str, str]] = Counter()
        self.cancelled: Counter[str] = Counter()
        # One action at a time: a confirmation reads the order's packages and writes them back.
        self._lock = threading.Lock()

    def _order(self, seller: str, order_id: str, at: datetime) -> OrderHistory | None:
        history = self.state.find_order(seller, order_id)
        if history is None or not self.state.in_region(seller, history) or history.state_as_of(at) is None:
            return None
        return history

    def confirm_shipment(self, seller: str, order_id: str, raw: bytes) -> tuple[int, None]:
        st = self.state
        try:
            body = json_object(raw, "a ConfirmShipmentRequest")
        except ApiError:
            raise invalid_input("the request body is not a JSON object") from None
        marketplace, detail = body.get("marketplaceId"), body.get("packageDetail")
        if not isinstance(marketplace, str) or marketplace not in MARKETPLACES:
            raise invalid_input(f"marketplaceId {marketplace!r} is not valid")
        if not isinstance(detail, dict):
            raise invalid_input("packageDetail is required")
        reference = detail.get("packageReferenceId")
        if not isinstance(reference, str) or not POSITIVE_NUMBER_RE.match(reference):
            raise invalid_input("PackageReferenceId: is invalid, must be a positive numeric value.")
        carrier = detail.get("carrierCode")
        if not isinstance(carrier, str) or not carrier.strip():
            raise invalid_input("CarrierCode is required for all marketplaces")
        if carrier == "Other" and not str(detail.get("carrierName") or "").strip():
            raise invalid_input("CarrierName is required when CarrierCode is Other")
        tracking = detail.get("trackingNumber")
        if not isinstance(tracking, str) or not tracking.strip():
            raise invalid_input("TrackingNumber is required")
        if not isinstance(detail.get("shipDate"), str) or not DATE_TIME_RE.match(detail["shipDate"]):
            raise invalid_input()
        items = detail.get("orderItems")
        if (not isinstance(items, list) or not items
                or not all(isinstance(i, dict) and isinstance(i.get("orderItemId"), str)
                           and type(i.get("quantity")) is int and i["quantity"] >= 1 for i in items)):
            raise invalid_input("orderItems must list each item's orderItemId and a quantity of 1 or more")
        now = st.clock.now()
        with self._lock:
            history = self._order(seller, order_id, now)
            if history is None:
                raise ApiError(404, "NotFound", f"Order {order_id} was not found.")
            if marketplace != history.marketplace_id:
                raise invalid_input(f"marketplaceId {marketplace} is not the order's marketplace")
            if history.fulfilled_by != "MERCHANT":
                raise invalid_input(f"Order {order_id} is fulfilled by Amazon; only seller-fulfilled orders can "
                                    "be confirmed")
            status = history.state_as_of(now)[1]
            existing = {p.reference_id: p for p in history.packages if p.shipped_at <= now}
            if reference not in existing and status not in SHIPPABLE:
                if status == "SHIPPED":
                    raise invalid_input("Failed to create package due to not finding a matching package or order "
                                        "already fulfilled. errorMetric=PackageToUpdateNotFound")
                raise invalid_input(f"Order {order_id} is {status} and cannot be shipped")
            lines = {line.order_item_id: line for line in history.lines}
            wanted: Counter[str] = Counter()
            for item in items:
                if item["orderItemId"] not in lines:
                    raise invalid_input("OrderItemId is invalid, please obtain the value through the getOrderItems "
                                        "API or Manage Orders page")
                wanted[item["orderItemId"]] += item["quantity"]
            others = [p for p in existing.values() if p.reference_id != reference]
            for item_id, quantity in wanted.items():
                shipped = sum(q for p in others for i, q in p.items if i == item_id)
                if shipped + quantity > lines[item_id].quantity:
                    raise invalid_input(f"The quantity for order item {item_id} exceeds its unshipped quantity "
                                        f"({lines[item_id].quantity - shipped})")
            package = Package(reference, now, carrier, tracking, tuple(sorted(wanted.items())))
            packages = (*others, package)
            full = all(sum(q for p in packages for i, q in p.items if i == line.order_item_id) >= line.quantity
                       for line in history.lines)
            st.override(with_change(history, now, "SHIPPED" if full else "PARTIALLY_SHIPPED", packages=packages))
            (self.edits if reference in existing else self.creates)[(order_id, reference)] += 1
        return 204, None

    def cancel(self, seller: str, order_id: str, at: datetime, item_ids: set[str]) -> str | None:
        """Cancel a whole order from `at` (a feed's processing end), or say why not (the result's message). A
        cancellation names every item of the order: partial ones are not emulated."""
        with self._lock:
            history = self._order(seller, order_id, at)
            if history is None:
                return f"The order id {order_id} was not found for this seller."
            state = history.state_as_of(at)
            if history.fulfilled_by != "MERCHANT":
                return f"Order {order_id} is fulfilled by Amazon; the seller cannot cancel it."
            if state[1] in ("SHIPPED", "PARTIALLY_SHIPPED") or history.packages:
                return f"Order {order_id} has shipped items and cannot be cancelled."
            if item_ids != {line.order_item_id for line in history.lines}:
                return f"Order {order_id}: only whole orders can be cancelled here; list every item of the order."
            if state[1] != "CANCELLED":
                self.state.override(with_change(history, at, "CANCELLED"))
            self.cancelled[order_id] += 1
        return None

    def report(self) -> dict:
        """The counts, for the emulator's control endpoint."""
        return {"created": {f"{o}/{r}": n for (o, r), n in self.creates.items()},
                "edited": {f"{o}/{r}": n for (o, r), n in self.edits.items()},
                "cancelled": dict(self.cancelled)}

