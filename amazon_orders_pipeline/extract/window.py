"""Extracting one change window: every page landed before anything touches DuckDB, resumable, from the order source
of the account's API version."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

from amazon_orders_pipeline.extract.get_orders_v0 import GetOrdersSource
from amazon_orders_pipeline.extract.increments import WINDOW, DayLog, Increment
from amazon_orders_pipeline.extract.landing import (
    TOKEN_REUSE_LIMIT,
    ExtractError,
    ExtractResult,
    LandedPage,
    OrderSource,
    PageFetchError,
    PageStore,
    Progress,
    Window,
    change_window,
    estimate_progress,
    newest_update,
)
from amazon_orders_pipeline.extract.search_orders import SearchOrdersSource
from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.orders_v2026 import API_VERSION
from amazon_orders_pipeline.sp_api.pages import Page, page_orders
from amazon_orders_pipeline.stores import ObjectStore

log = logging.getLogger(__name__)
SOURCES: dict[str, type[OrderSource]] = {s.api_version: s for s in (SearchOrdersSource, GetOrdersSource)}


def order_source(api_version: str, client: SpApiClient, pii: bool) -> OrderSource:
    source = SOURCES.get(api_version)
    if source is None:
        raise ExtractError(f"unknown api_version {api_version!r}")
    return source(client, pii)


def extract_window(client: SpApiClient, landing: ObjectStore, *, account_id: str, day: date,
                   marketplace_ids: list[str] | tuple[str, ...], pii: bool, now: datetime | None = None,
                   on_page: Callable[[Progress], None] | None = None,
                   api_version: str = API_VERSION, window: Window | None = None, kind: str = WINDOW
                   ) -> ExtractResult:
    """Land every page of one day's change window (or of `window`, a sweep's part of it: see increments.py),
    resuming an unfinished attempt when there is one, and record it as an increment of the day."""
    now = now or datetime.now(UTC)
    store = PageStore(landing, account_id, day)
    window = window or change_window(day, now)
    state = store.current()
    resumable = (
        state is not None
        and state["status"] in ("fetching", "fetched")
        and state["window_start"] == window.iso()[0]
        and state.get("api_version", API_VERSION) == api_version
        and state.get("kind", WINDOW) == kind
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
                 "next_token": None, "token_at": None, "api_version": api_version, "kind": kind,
                 "fetched_at": now.astimezone(UTC).isoformat()}
        pages = []
    resumed = len(pages)
    source = order_source(api_version, client, pii) if state["status"] == "fetching" else None
    try:
        if source is not None:
            params = state["params"] or source.params(window, marketplace_ids)
            state["params"] = params
            store.save(state)
            try:
                pages += _fetch(source, store, state, params, on_page, window, pages)
            except PageFetchError as e:
                if not e.token_refused:
                    raise
                # The pagination token was refused (stored by a run that died more than a day ago, or expired
                # while this one waited): start the window over as a new attempt, so no page of the old one mixes
                # with the new ones.
                log.warning("pagination token for %s %s was refused; restarting the window", account_id, day)
                state.update(attempt_id=uuid.uuid4().hex[:12], pages=0, next_token=None, token_at=None)
                store.save(state)
                pages, resumed, restarted = _fetch(source, store, state, params, on_page, window, []), 0, True
            state["status"] = "fetched"
            store.save(state)
    finally:
        if source is not None:
            source.close()
    if state["status"] == "fetched":
        DayLog(landing, account_id, day).add(Increment(
            state["attempt_id"], state.get("kind", WINDOW), state["window_start"], state["window_end"],
            state["pages"], "fetched", fetched_at=state.get("fetched_at", "")))
    return ExtractResult(account_id, day, state["attempt_id"], window, pages, resumed_pages=resumed,
                         restarted=restarted, stats=client.stats.as_dict(),
                         warnings=source.warnings if source else [], api_version=api_version,
                         pii_refused=bool(source and source.pii and source.redacted))


def _fetch(source: OrderSource, store: PageStore, state: dict, params: dict,
           on_page: Callable[[Progress], None] | None, window: Window, landed: list[LandedPage]) -> list[LandedPage]:
    """The window's remaining pages, after `landed` (already there from an earlier try of this attempt)."""
    pages: list[LandedPage] = []
    orders = sum(p.order_count for p in landed)
    newest: datetime | None = None
    redact = source.redacted
    source.begin(store, state["attempt_id"], landed)
    # An attempt whose last orders page has landed (it died completing the window, e.g. fetching v0 items) has
    # no pages left: without a next token, paging would start over at the first page.
    remaining = iter(()) if state["pages"] and not state["next_token"] else \
        source.pages(params, state["next_token"], state["pages"] + 1)
    for page in _with_page_context(remaining, store, state):
        page_list = page_orders(page.operation, page.data)
        if page_list is None:
            raise ExtractError(f"{page.operation} page {page.number} has no orders list "
                               f"(request id {page.request_id})")
        body = json.dumps(source.redact(page.data)).encode() if redact else page.body
        landed_page = store.land(state["attempt_id"], page, body, redacted=redact, api_version=source.api_version)
        pages.append(landed_page)
        orders += landed_page.order_count
        source.page_landed(page_list)
        state.update(pages=page.number, next_token=page.next_token, token_at=page.fetched_at.isoformat())
        store.save(state)
        if on_page:
            page_newest = newest_update(page_list, source.updated_field)
            newest = max(filter(None, (newest, page_newest)), default=None)
            covered, remaining, eta = estimate_progress(
                window, newest, orders, int(params.get("maxResultsPerPage") or params.get("MaxResultsPerPage")),
                lambda n: source.client.quota_seconds(source.operation, n))
            if not state["next_token"]:  # the last page: nothing is left whatever the estimate says
                covered, remaining, eta = 1.0, 0, 0.0
            on_page(Progress(landed_page, page.number, orders, covered, remaining, eta))
    try:
        source.finish()
    except SpApiError as e:
        raise ExtractError(f"{store.prefix}: window [{state['window_start']}, {state['window_end']}): {e}") from None
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
                f"could not be fetched: {e}", e, number) from None
        yield page
