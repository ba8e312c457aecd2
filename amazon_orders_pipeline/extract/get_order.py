"""Orders read one by one with v2026 getOrder (the orders ORDER_CHANGE notifications named), landed as `orders`
increments (increments.py) in the day of each order's own lastUpdatedTime.

getOrder reads the order itself, not the search index, so it sees a change as soon as Amazon has made it; its quota
(0.5/s, burst 30) is 90 times searchOrders'. Each response is landed verbatim as a page of its own."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from amazon_orders_pipeline.extract.increments import ORDERS, DayLog, Increment
from amazon_orders_pipeline.extract.landing import PageStore
from amazon_orders_pipeline.extract.search_orders import BASE_INCLUDED_DATA, redact_pii
from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.orders_v2026 import API_VERSION, OrdersV2026
from amazon_orders_pipeline.sp_api.pages import Page
from amazon_orders_pipeline.stores import ObjectStore


@dataclass
class OrdersResult:
    account_id: str
    orders: int = 0
    not_found: list[str] = field(default_factory=list)  # ids getOrder answered 404 for (another region's, say)
    days: dict[date, str] = field(default_factory=dict)  # day -> the attempt landed there
    stats: dict = field(default_factory=dict)


def _last_updated(page: Page) -> datetime:
    order = page.data.get("order") if isinstance(page.data, dict) else None
    text = order.get("lastUpdatedTime") if isinstance(order, dict) else None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise SpApiError("getOrder", 200, "Unreadable", f"order without a lastUpdatedTime: {text!r}") from None


def fetch_orders(client: SpApiClient, landing: ObjectStore, *, account_id: str, orders: dict[str, str],
                 pii: bool) -> OrdersResult:
    """getOrder each of `orders` (order id -> its earliest notified change, ISO) once, and land the responses as one
    `orders` increment per day of their lastUpdatedTime."""
    included = BASE_INCLUDED_DATA + (["BUYER"] if pii else [])
    result = OrdersResult(account_id)
    by_day: dict[date, list[Page]] = {}
    orders_api = OrdersV2026(client)
    for order_id in sorted(orders):
        try:
            page = orders_api.get_order(order_id, included)
        except SpApiError as e:
            if e.status == 404:
                result.not_found.append(order_id)
                continue
            raise
        by_day.setdefault(_last_updated(page).date(), []).append(page)
    earliest = min(orders.values(), default=datetime.now(UTC).isoformat())
    for day, pages in sorted(by_day.items()):
        store, attempt_id = PageStore(landing, account_id, day), "o" + uuid.uuid4().hex[:11]
        for number, page in enumerate(pages, start=1):
            page = replace(page, number=number)
            body = page.body if pii else json.dumps(
                {"order": redact_pii({"orders": [page.data["order"]]})["orders"][0]}).encode()
            store.land(attempt_id, page, body, redacted=not pii, api_version=API_VERSION)
        fetched = max(p.fetched_at for p in pages)
        DayLog(landing, account_id, day).add(Increment(
            attempt_id, ORDERS, _z(datetime.fromisoformat(earliest)), _z(fetched), len(pages), "fetched"))
        result.days[day] = attempt_id
        result.orders += len(pages)
    result.stats = client.stats.as_dict()
    return result


def _z(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
