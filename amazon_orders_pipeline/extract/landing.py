"""The machinery every way in shares: change windows, the landing area (attempts of pages, a CURRENT pointer with
progress, resume), the source interface, and reading an attempt back for the load."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.orders_v2026 import API_VERSION
from amazon_orders_pipeline.sp_api.pages import Page, page_orders
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

# The API rejects *Before values later than two minutes before now; keep a little more for clock skew.
MIN_LAG = timedelta(minutes=2, seconds=30)
# Resume with a stored pagination token only while it is safely inside its 24-hour life.
TOKEN_REUSE_LIMIT = timedelta(hours=23)

log = logging.getLogger(__name__)


class ExtractError(RuntimeError):
    pass


class PageFetchError(ExtractError):
    def __init__(self, message: str, cause: SpApiError, page: int):
        super().__init__(message)
        self.cause, self.page = cause, page

    @property
    def token_refused(self) -> bool:
        """A 400 for a page fetched with a pagination token: the token, not the query, was refused (it expired,
        or belongs to an older window). Page 1 of an attempt carries no token; a 400 there is a bad query."""
        return self.cause.status == 400 and self.page > 1


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def iso(self) -> tuple[str, str]:
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        return self.start.strftime(fmt), self.end.strftime(fmt)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def change_window(day: date, now: datetime) -> Window:
    """Partition D holds the orders last updated in [D, D+1) UTC, with the end clamped to now - 2.5 min."""
    start = day_start(day)
    latest = (now - MIN_LAG).replace(microsecond=0)
    end = min(start + timedelta(days=1), latest)
    if end <= start:
        raise ExtractError(f"the change window for {day} has not opened yet (now is {now.isoformat()})")
    return Window(start, end)


@dataclass
class LandedPage:
    number: int  # within its operation: the orders pages of a window, or the item pages of one order
    key: str
    request_params: dict
    request_id: str | None
    fetched_at: str
    order_count: int
    redacted: bool
    api_version: str = API_VERSION
    operation: str = "searchOrders"
    order_id: str | None = None  # the order a v0 getOrderItems page belongs to


@dataclass(frozen=True)
class Progress:
    """Where an extraction stands after a page: counts so far and, for the log, an estimate of what is left."""

    page: LandedPage
    pages: int
    orders: int
    covered: float | None  # share of the window's time span up to the newest lastUpdatedTime seen
    remaining_pages: int | None
    eta_s: float | None  # the least time the remaining pages take under the searchOrders quota

    def describe(self) -> str:
        text = f"{self.pages} pages, {self.orders} orders so far"
        if self.covered is not None and self.eta_s is not None:
            text += (f"; {self.covered:.0%} of the window covered, about {self.remaining_pages} more pages, "
                     f"~{self.eta_s:.0f} s left at the searchOrders quota")
        return text


def estimate_progress(window: Window, newest: datetime | None, orders: int, page_size: int,
                      quota_seconds: Callable[[int], float]) -> tuple[float | None, int | None, float | None]:
    """Pages come sorted by lastUpdatedTime (the emulator does so; Amazon does not promise it, so this is an
    estimate): the newest time seen tells how much of the window is done, and the order rate so far how many
    pages the rest needs. Each of those pages costs one searchOrders token."""
    if newest is None or orders == 0:
        return None, None, None
    span = (window.end - window.start).total_seconds()
    covered = min(1.0, max((newest - window.start).total_seconds() / span, 1e-6))
    remaining_orders = orders / covered - orders
    remaining = math.ceil(remaining_orders / page_size) if covered < 1.0 else 0
    return covered, remaining, quota_seconds(remaining) if remaining else 0.0


def newest_update(orders: list, field: str = "lastUpdatedTime") -> datetime | None:
    times = []
    for order in orders:
        text = order.get(field) if isinstance(order, dict) else None
        if isinstance(text, str):
            try:
                times.append(datetime.fromisoformat(text.replace("Z", "+00:00")))
            except ValueError:
                continue
    return max(times, default=None)


@dataclass
class ExtractResult:
    account_id: str
    partition_date: date
    attempt_id: str
    window: Window
    pages: list[LandedPage]
    resumed_pages: int = 0
    restarted: bool = False
    stats: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # e.g. PII asked for but refused
    pii_refused: bool = False  # the account has PII on, but the pages came without it
    api_version: str = API_VERSION

    @property
    def orders(self) -> int:
        return sum(p.order_count for p in self.pages)


class PageStore:
    """The landing area of one (account, day): attempts of pages plus a CURRENT pointer with progress."""

    def __init__(self, landing: ObjectStore, account_id: str, day: date):
        self.landing = landing
        self.prefix = f"order_pages/account={account_id}/date={day.isoformat()}"

    def current(self) -> dict | None:
        return get_json(self.landing, f"{self.prefix}/CURRENT.json")

    def save(self, state: dict) -> None:
        put_json(self.landing, f"{self.prefix}/CURRENT.json", state)

    def page_key(self, attempt_id: str, number: int) -> str:
        return f"{self.prefix}/attempt={attempt_id}/page-{number:05d}.json"

    def items_prefix(self, attempt_id: str, order_id: str) -> str:
        return f"{self.prefix}/attempt={attempt_id}/items/{order_id}"

    def land(self, attempt_id: str, page: Page, body: bytes, redacted: bool, api_version: str = API_VERSION,
             order_id: str | None = None) -> LandedPage:
        """Store one page and its metadata. Orders pages are numbered per window; a v0 getOrderItems page
        (`order_id` set) is numbered within its order."""
        if order_id is None:
            key = self.page_key(attempt_id, page.number)
            orders = page_orders(page.operation, page.data)
            count = len(orders) if orders is not None else 0
        else:
            key, count = f"{self.items_prefix(attempt_id, order_id)}/page-{page.number:03d}.json", 0
        meta = LandedPage(
            number=page.number, key=key, request_params=page.params, request_id=page.request_id,
            fetched_at=page.fetched_at.isoformat(), order_count=count, redacted=redacted, api_version=api_version,
            operation=page.operation, order_id=order_id,
        )
        self.landing.put(key, body)
        put_json(self.landing, key.removesuffix(".json") + ".meta.json", meta.__dict__)
        return meta

    def landed(self, attempt_id: str, count: int) -> list[LandedPage]:
        pages = []
        for n in range(1, count + 1):
            meta = get_json(self.landing, self.page_key(attempt_id, n).removesuffix(".json") + ".meta.json")
            if meta is None:
                raise ExtractError(f"landing {self.prefix}: page {n} of attempt {attempt_id} is missing")
            pages.append(LandedPage(**meta))
        return pages

    def mark_items_done(self, attempt_id: str, order_id: str, pages: int) -> None:
        put_json(self.landing, f"{self.items_prefix(attempt_id, order_id)}/DONE.json", {"pages": pages})

    def items_done(self, attempt_id: str, order_id: str) -> int | None:
        """How many item pages one order's complete set has, or None when it has not been landed in full."""
        done = get_json(self.landing, f"{self.items_prefix(attempt_id, order_id)}/DONE.json")
        return None if done is None else int(done["pages"])

    def landed_items(self, attempt_id: str, order_id: str) -> list[LandedPage] | None:
        """The item pages of one order, or None when they were not all landed."""
        count = self.items_done(attempt_id, order_id)
        if count is None:
            return None
        pages = []
        for n in range(1, count + 1):
            meta = get_json(self.landing, f"{self.items_prefix(attempt_id, order_id)}/page-{n:03d}.meta.json")
            if meta is None:
                raise ExtractError(f"landing {self.prefix}: item page {n} of order {order_id} is missing")
            pages.append(LandedPage(**meta))
        return pages

    def read_body(self, page: LandedPage) -> bytes:
        body = self.landing.get(page.key)
        if body is None:
            raise ExtractError(f"landing object {page.key} is missing")
        return body


class OrderSource:
    """How one SP-API path's pages of a window are fetched and landed: one subclass per way in (search_orders.py,
    get_orders_v0.py)."""

    api_version: str
    operation: str
    updated_field = "lastUpdatedTime"

    def __init__(self, client: SpApiClient, pii: bool):
        self.client, self.pii = client, pii
        self.warnings: list[str] = []

    @property
    def redacted(self) -> bool:
        """Whether landed pages have Amazon's PII fields removed."""
        return not self.pii

    def params(self, window: Window, marketplace_ids: list[str] | tuple[str, ...]) -> dict:
        raise NotImplementedError

    def pages(self, params: dict, next_token: str | None, first_page: int) -> Iterator[Page]:
        raise NotImplementedError

    def redact(self, data: dict) -> dict:
        """The page without Amazon's PII fields."""
        raise NotImplementedError

    def begin(self, store: PageStore, attempt_id: str, landed: list[LandedPage]) -> None:
        """An attempt starts, or resumes after `landed` pages."""

    def page_landed(self, orders: list) -> None:
        """An orders page has landed."""

    def finish(self) -> None:
        """Every orders page has landed: complete whatever else the window needs."""

    def close(self) -> None:
        """Stop background work (after a failure too)."""



@dataclass
class LandedWindow:
    """An attempt's pages as the load writes them: orders pages first, then (v0) each order's item pages in
    order of appearance, with the items parsed by order id for the order records."""

    pages: list[tuple[LandedPage, bytes]]
    order_items: dict[str, list] = field(default_factory=dict)
    orders_without_items: list[str] = field(default_factory=list)


def landed_window(store: PageStore, attempt_id: str, count: int) -> LandedWindow:
    orders_pages = store.landed(attempt_id, count)
    window = LandedWindow([(p, store.read_body(p)) for p in orders_pages])
    for page, body in list(window.pages):
        if page.operation != "getOrders":
            continue
        for order in page_orders(page.operation, _json_object(body, page)) or []:
            order_id = order.get("AmazonOrderId") if isinstance(order, dict) else None
            if not isinstance(order_id, str) or order_id in window.order_items:
                continue
            item_pages = store.landed_items(attempt_id, order_id)
            if item_pages is None:
                window.orders_without_items.append(order_id)
                continue
            items: list = []
            for item_page in item_pages:
                item_body = store.read_body(item_page)
                window.pages.append((item_page, item_body))
                items.extend(page_orders(item_page.operation, _json_object(item_body, item_page)) or [])
            window.order_items[order_id] = items
    return window


def _json_object(body: bytes, page: LandedPage) -> dict:
    try:
        data = json.loads(body)
    except ValueError as e:
        raise ExtractError(f"landing object {page.key} is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise ExtractError(f"landing object {page.key} is not a JSON object")
    return data


def mark_loaded(landing: ObjectStore, account_id: str, day: date, attempt_id: str) -> None:
    """Record that an attempt's pages are in DuckDB, so the next materialization fetches afresh."""
    store = PageStore(landing, account_id, day)
    state = store.current()
    if state and state["attempt_id"] == attempt_id:
        state["status"] = "loaded"
        store.save(state)
