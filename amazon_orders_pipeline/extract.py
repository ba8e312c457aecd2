"""Extracting one change window: every searchOrders page landed before anything touches DuckDB, resumable."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from amazon_orders_pipeline.sp_api.client import API_VERSION, Page, SpApiClient, SpApiError
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

# The API rejects *Before values later than two minutes before now; keep a little more for clock skew.
MIN_LAG = timedelta(minutes=2, seconds=30)
# Resume with a stored pagination token only while it is safely inside its 24-hour life.
TOKEN_REUSE_LIMIT = timedelta(hours=23)

# includedData for the orders we keep. BUYER (name, email) is asked for only when the account has PII on.
BASE_INCLUDED_DATA = ["RECIPIENT", "PROCEEDS", "FULFILLMENT", "PROMOTION", "CANCELLATION"]
# Amazon's list of PII inside the sections above; removed before landing when PII is off.
PII_ADDRESS_FIELDS = ("name", "companyName", "addressLine1", "addressLine2", "addressLine3", "postalCode",
                      "phone", "extendedFields")

log = logging.getLogger(__name__)


class ExtractError(RuntimeError):
    pass


class PageFetchError(ExtractError):
    def __init__(self, message: str, cause: SpApiError):
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def iso(self) -> tuple[str, str]:
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        return self.start.strftime(fmt), self.end.strftime(fmt)


def change_window(day: date, now: datetime) -> Window:
    """Partition D holds the orders last updated in [D, D+1) UTC, with the end clamped to now - 2 min."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    latest = (now - MIN_LAG).replace(microsecond=0)
    end = min(start + timedelta(days=1), latest)
    if end <= start:
        raise ExtractError(f"the change window for {day} has not opened yet (now is {now.isoformat()})")
    return Window(start, end)


def search_params(window: Window, marketplace_ids: list[str] | tuple[str, ...], pii: bool) -> dict:
    after, before = window.iso()
    included = BASE_INCLUDED_DATA + (["BUYER"] if pii else [])
    return {"lastUpdatedAfter": after, "lastUpdatedBefore": before, "marketplaceIds": list(marketplace_ids),
            "includedData": included, "maxResultsPerPage": 100}


def redact_pii(data: dict) -> dict:
    """Drop the fields Amazon lists as PII from a searchOrders page, keeping city, region and country."""
    for order in data.get("orders") or []:
        if not isinstance(order, dict):
            continue
        order.pop("buyer", None)
        address = (order.get("recipient") or {}).get("deliveryAddress")
        if isinstance(address, dict):
            for name in PII_ADDRESS_FIELDS:
                address.pop(name, None)
        for item in order.get("orderItems") or []:
            if not isinstance(item, dict):
                continue
            (item.get("product") or {}).pop("customization", None)
            packing = (item.get("fulfillment") or {}).get("packing")
            if isinstance(packing, dict):
                packing.pop("giftOption", None)
    return data


@dataclass
class LandedPage:
    number: int
    key: str
    request_params: dict
    request_id: str | None
    fetched_at: str
    order_count: int
    redacted: bool
    api_version: str = API_VERSION


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


def newest_update(orders: list) -> datetime | None:
    times = []
    for order in orders:
        text = order.get("lastUpdatedTime") if isinstance(order, dict) else None
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

    def land(self, attempt_id: str, page: Page, body: bytes, redacted: bool) -> LandedPage:
        key = self.page_key(attempt_id, page.number)
        orders = page.data.get("orders")
        meta = LandedPage(
            number=page.number, key=key, request_params=page.params, request_id=page.request_id,
            fetched_at=page.fetched_at.isoformat(), order_count=len(orders) if isinstance(orders, list) else 0,
            redacted=redacted,
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

    def read_body(self, page: LandedPage) -> bytes:
        body = self.landing.get(page.key)
        if body is None:
            raise ExtractError(f"landing object {page.key} is missing")
        return body


def extract_window(client: SpApiClient, landing: ObjectStore, *, account_id: str, day: date,
                   marketplace_ids: list[str] | tuple[str, ...], pii: bool, now: datetime | None = None,
                   on_page: Callable[[Progress], None] | None = None) -> ExtractResult:
    """Land every page of one day's change window, resuming an unfinished attempt when there is one."""
    now = now or datetime.now(UTC)
    store = PageStore(landing, account_id, day)
    window = change_window(day, now)
    state = store.current()
    resumable = (
        state is not None
        and state["status"] in ("fetching", "fetched")
        and state["window_start"] == window.iso()[0]
        and (state["status"] == "fetched" or not state.get("next_token")
             or now - datetime.fromisoformat(state["token_at"]) < TOKEN_REUSE_LIMIT)
    )
    restarted = False
    if resumable:
        assert state is not None
        window = Window(datetime.fromisoformat(state["window_start"].replace("Z", "+00:00")),
                        datetime.fromisoformat(state["window_end"].replace("Z", "+00:00")))
        pages = store.landed(state["attempt_id"], state["pages"])
    else:
        state = {"attempt_id": uuid.uuid4().hex[:12], "status": "fetching", "params": None,
                 "window_start": window.iso()[0], "window_end": window.iso()[1], "pages": 0,
                 "next_token": None, "token_at": None}
        pages = []
    resumed = len(pages)
    if state["status"] == "fetching":
        params = state["params"] or search_params(window, marketplace_ids, pii)
        state["params"] = params
        store.save(state)
        try:
            pages += _fetch(client, store, state, params, on_page, window,
                            start_orders=sum(p.order_count for p in pages))
        except PageFetchError as e:
            if not (resumed and e.cause.status == 400):
                raise
            # The stored pagination token was refused (expired or from an older window): start over cleanly.
            log.warning("pagination token for %s %s was refused; restarting the window", account_id, day)
            state.update(attempt_id=uuid.uuid4().hex[:12], pages=0, next_token=None, token_at=None)
            store.save(state)
            pages, resumed, restarted = _fetch(client, store, state, params, on_page, window, start_orders=0), 0, True
        state["status"] = "fetched"
        store.save(state)
    return ExtractResult(account_id, day, state["attempt_id"], window, pages, resumed_pages=resumed,
                         restarted=restarted, stats=client.stats.as_dict())


def _fetch(client: SpApiClient, store: PageStore, state: dict, params: dict,
           on_page: Callable[[Progress], None] | None, window: Window, start_orders: int) -> list[LandedPage]:
    pages: list[LandedPage] = []
    orders = start_orders
    newest: datetime | None = None
    redact = "BUYER" not in params["includedData"]
    for page in _with_page_context(client.search_orders(params, next_token=state["next_token"],
                                                        first_page=state["pages"] + 1), store, state):
        if not isinstance(page.data.get("orders"), list):
            raise ExtractError(f"page {page.number} has no 'orders' list (request id {page.request_id})")
        body = json.dumps(redact_pii(page.data)).encode() if redact else page.body
        landed = store.land(state["attempt_id"], page, body, redacted=redact)
        pages.append(landed)
        orders += landed.order_count
        state.update(pages=page.number, next_token=page.next_token, token_at=page.fetched_at.isoformat())
        store.save(state)
        if on_page:
            page_newest = newest_update(page.data["orders"])
            newest = max(filter(None, (newest, page_newest)), default=None)
            covered, remaining, eta = estimate_progress(
                window, newest, orders, params["maxResultsPerPage"],
                lambda n: client.quota_seconds("searchOrders", n))
            if not state["next_token"]:  # the last page: nothing is left whatever the estimate says
                covered, remaining, eta = 1.0, 0, 0.0
            on_page(Progress(landed, page.number, orders, covered, remaining, eta))
    return pages


def _with_page_context(pages: Iterator[Page], store: PageStore, state: dict) -> Iterator[Page]:
    """Name the account, window and page in a failure, so the run says exactly what could not be fetched."""
    while True:
        number = state["pages"] + 1
        try:
            page = next(pages)
        except StopIteration:
            return
        except SpApiError as e:
            raise PageFetchError(
                f"{store.prefix}: window [{state['window_start']}, {state['window_end']}) page {number} "
                f"could not be fetched: {e}", e) from None
        yield page


def mark_loaded(landing: ObjectStore, account_id: str, day: date, attempt_id: str) -> None:
    """Record that an attempt's pages are in DuckDB, so the next materialization fetches afresh."""
    store = PageStore(landing, account_id, day)
    state = store.current()
    if state and state["attempt_id"] == attempt_id:
        state["status"] = "loaded"
        store.save(state)
