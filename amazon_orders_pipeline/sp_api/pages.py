"""A page of an Orders listing as it is landed: what was sent, what came back, and the orders in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Page:
    number: int
    params: dict[str, str]  # what was sent, the pagination token included; never credentials
    request_id: str | None
    fetched_at: datetime
    body: bytes  # the response body exactly as received
    data: dict
    next_token: str | None
    operation: str = "searchOrders"

    @property
    def orders(self) -> list[dict]:
        return page_orders(self.operation, self.data) or []


def page_orders(operation: str, data: dict) -> list | None:
    """The orders list of a page: `orders` in v2026 searchOrders, the one `order` of a getOrder response,
    `payload.Orders` in v0 getOrders, and the
    order items list, `payload.OrderItems`, of a v0 getOrderItems page. None when the page has no such list."""
    if operation == "searchOrders":
        found = data.get("orders")
    elif operation == "getOrder":
        found = [data["order"]] if isinstance(data.get("order"), dict) else None
    else:
        payload = data.get("payload")
        found = payload.get("Orders" if operation == "getOrders" else "OrderItems") if isinstance(payload, dict) \
            else None
    return found if isinstance(found, list) else None
