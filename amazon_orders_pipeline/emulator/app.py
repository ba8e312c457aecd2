"""The local SP-API: a real HTTP server on 127.0.0.1 speaking LWA, Orders v2026-01-01, Orders v0 (with
confirmShipment), the Tokens API (restricted data tokens), Reports, Feeds and Notifications, with quotas and
faults."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from amazon_orders_pipeline.emulator.errors import ApiError, invalid
from amazon_orders_pipeline.emulator.faults import FaultInjector, FaultPlan
from amazon_orders_pipeline.emulator.feeds import (
    DEFAULT_FEED_PROCESSING_S,
    FEED_DOCUMENTS_PATH,
    FEEDS_PATH,
    RESULT_PATH,
    UPLOAD_PATH,
    Feeds,
)
from amazon_orders_pipeline.emulator.fulfillment import FULFILLMENT_PATH, PREVIEW_PATH, Fulfillment
from amazon_orders_pipeline.emulator.merchant import CONFIRM_PATH_RE, Merchant
from amazon_orders_pipeline.emulator.notifications import (
    NOTIFICATIONS_PATH,
    NotificationFaults,
    Notifications,
)
from amazon_orders_pipeline.emulator.orders_v0 import DATA_ELEMENTS, rdt_grant, shipping_address, v0_items, v0_order
from amazon_orders_pipeline.emulator.query import multi as _multi
from amazon_orders_pipeline.emulator.query import parse_timestamp
from amazon_orders_pipeline.emulator.query import single as _single
from amazon_orders_pipeline.emulator.reports import (
    DEFAULT_PROCESSING_S,
    DOCUMENTS_PATH,
    DOWNLOAD_PATH,
    REPORTS_PATH,
    Reports,
)
from amazon_orders_pipeline.emulator.seller import (
    MARKETPLACES,
    OrderHistory,
    SyntheticSeller,
    filter_included,
    iso,
)
from amazon_orders_pipeline.sp_api.marketplaces import region_of
from amazon_orders_pipeline.sp_api.rate_limit import USAGE_PLANS, TokenBucket

SEARCH_PATH = "/orders/2026-01-01/orders"
V0_ORDERS_PATH = "/orders/v0/orders"
RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"
V0_ORDER_PATH_RE = re.compile(r"^/orders/v0/orders/([^/]+)/(orderItems|address)$")
ORDER_ID_RE = re.compile(r"^\d{3}-\d{7}-\d{7}$")
FULFILLMENT_STATUSES = {
    "PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED", "UNFULFILLABLE",
}
FULFILLED_BY = {"MERCHANT", "AMAZON"}
INCLUDED_DATA = {
    "BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT", "PACKAGES", "TAX",
    "PAYMENT", "FULFILLMENT_ORDERS",
}
SEARCH_PARAMS = {
    "createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore", "fulfillmentStatuses",
    "marketplaceIds", "fulfilledBy", "maxResultsPerPage", "paginationToken", "includedData",
}
# A pagination token carries the query's values for everything but these; a page request may repeat them (the same
# values) or leave them out.
PAGINATION_FREE_PARAMS = {"maxResultsPerPage", "includedData", "paginationToken"}
V0_PAGINATION_FREE_PARAMS = {"NextToken", "MaxResultsPerPage"}
# getOrders: exactly one of CreatedAfter / LastUpdatedAfter, the rest as the model lists them.
V0_ORDERS_PARAMS = {
    "CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore", "OrderStatuses", "MarketplaceIds",
    "FulfillmentChannels", "MaxResultsPerPage", "NextToken",
}
V0_ORDER_STATUSES = {
    "Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled", "Unfulfillable", "InvoiceUnconfirmed",
    "PendingAvailability",
}
V0_STATUS_FILTER = {"Pending": "PENDING", "Unshipped": "UNSHIPPED", "PartiallyShipped": "PARTIALLY_SHIPPED",
                    "Shipped": "SHIPPED", "Canceled": "CANCELLED", "Unfulfillable": "UNFULFILLABLE",
                    "PendingAvailability": "PENDING_AVAILABILITY", "InvoiceUnconfirmed": "SHIPPED"}
V0_CHANNEL_FILTER = {"AFN": "AMAZON", "MFN": "MERCHANT"}
ACCESS_TOKEN_TTL = 3600
RDT_TTL = 3600
# In a caller's grant: it authorised with an RDT (operations restricted as a whole, such as getOrderAddress, need
# no data elements, only the token).
RDT_GRANT = "restrictedDataToken"
PAGINATION_TOKEN_TTL = timedelta(hours=24)
MIN_LAG = timedelta(minutes=2)
# Amazon's order index lags its orders: a change shows in lastUpdated*/created* queries some time after it happens
# (users report 3 minutes, hours at worst; docs#2131, jlevers#763). Each change's lag is drawn from [0, this].
DEFAULT_INDEX_LAG_S = 300.0
# The caller of a grantless operation: an application, not a seller (LWA's client_credentials grant).
GRANTLESS = "grantless"
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
DESTINATIONS_PATH = NOTIFICATIONS_PATH + "/destinations"
SUBSCRIPTIONS_PATH = NOTIFICATIONS_PATH + "/subscriptions"
# The region of a seller whose first Orders request names no marketplace (the models' own host is NA's).
DEFAULT_REGION = "NA"


def seller_key(refresh_token: str) -> str:
    """The synthetic seller behind a refresh token (a hash, so the token itself is never kept as data)."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


class EmulatorClock:
    """Real time plus an offset that tests can set, so late status changes can be watched happen."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def set(self, now: datetime) -> None:
        self._offset = now - datetime.now(UTC)


class EmulatorState:
    def __init__(self, *, seed: int = 42, speed: float = 1.0, orders_per_day: int = 400,
                 report_processing_s: float | None = None, report_workers: int = 0,
                 index_lag_s: float = DEFAULT_INDEX_LAG_S, sqs_endpoint: str | None = None,
                 feed_processing_s: float = DEFAULT_FEED_PROCESSING_S):
        self.seller = SyntheticSeller(seed=seed, orders_per_day=orders_per_day)
        self.speed = speed
        self.index_lag_s = index_lag_s
        self.clock = EmulatorClock()
        self.faults = FaultInjector()
        self.stats: Counter[str] = Counter()
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self.issued_tokens: list[str] = []  # every access token and RDT handed out, for tests that scan for leaks
        self._rdts: dict[str, tuple[str, datetime, list[dict]]] = {}
        self.v0_items_page_size = 100  # getOrderItems page size; tests lower it to exercise NextToken
        self._injected: deque[bytes] = deque()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._results: OrderedDict[tuple, list[OrderHistory]] = OrderedDict()
        self._regions: dict[str, str] = {}
        self._lock = threading.Lock()
        self.reports = Reports(self, DEFAULT_PROCESSING_S if report_processing_s is None else report_processing_s,
                               workers=report_workers)
        self.notifications = Notifications(self, sqs_endpoint)
        self.merchant = Merchant(self)
        self.feeds = Feeds(self, feed_processing_s)
        self.fulfillment = Fulfillment(self)

    # --- auth ---------------------------------------------------------------------------------
    def issue_token(self, refresh_token: str | None) -> str:
        """An access token for a seller (its refresh token), or a grantless one (None)."""
        token = "Atza|emu-" + secrets.token_urlsafe(24)
        caller = GRANTLESS if refresh_token is None else seller_key(refresh_token)
        with self._lock:
            self._tokens[token] = (caller, self.clock.now() + timedelta(seconds=ACCESS_TOKEN_TTL))
            self.issued_tokens.append(token)
        return token

    def inject_pages(self, bodies: list[bytes]) -> None:
        """Serve these bodies, as they are, to the next searchOrders calls (bad-input tests)."""
        with self._lock:
            self._injected.extend(bodies)

    def next_injected_page(self) -> bytes | None:
        with self._lock:
            return self._injected.popleft() if self._injected else None

    def issue_rdt(self, seller: str, resources: list[dict]) -> str:
        token = "Atz.sprdt|emu-" + secrets.token_urlsafe(24)
        with self._lock:
            self._rdts[token] = (seller, self.clock.now() + timedelta(seconds=RDT_TTL), resources)
            self.issued_tokens.append(token)
        return token

    def authorise(self, token: str | None, method: str = "GET", path: str = "",
                  allow_rdt: bool = False) -> tuple[str, frozenset[str]]:
        """The seller behind an access token, and what it grants for this request: nothing for an LWA token; for an
        RDT that covers the operation, its data elements plus RDT_GRANT. Anything else is a 403."""
        denied = ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                          "The access token you provided is revoked, malformed or invalid.")
        now = self.clock.now()
        grant: frozenset[str] = frozenset()
        entry = self._tokens.get(token or "")
        if entry is None:
            rdt = self._rdts.get(token or "") if allow_rdt else None
            if rdt is None or rdt[1] <= now:
                raise denied
            covered = rdt_grant(rdt[2], method, path)
            if covered is None:
                raise denied
            entry, grant = (rdt[0], rdt[1]), covered | {RDT_GRANT}
        if entry[1] <= now:
            raise denied
        if self.faults.revoke_now():
            self._tokens.pop(token, None)
            self._rdts.pop(token, None)
            raise denied
        return entry[0], grant

    # --- regions ------------------------------------------------------------------------------
    def regional_marketplaces(self, seller: str, marketplaces: list[str]) -> set[str]:
        """The marketplaces a request may see. A refresh token belongs to one region, and a region's endpoint serves
        only its own marketplaces: the emulator binds a seller to the region of its first Orders request (NA when
        that names none) and refuses a request that names a marketplace of another region as Amazon does (403
        Unauthorized, "The marketplaces you provided are not valid for region.", amzn/selling-partner-api-models
        #5126). With none named: all of the region's."""
        regions = {region_of(m) for m in marketplaces}
        with self._lock:
            home = self._regions.get(seller)
            if home is None and len(regions) <= 1:
                home = self._regions[seller] = next(iter(regions), DEFAULT_REGION)
        if home is None or regions - {home}:
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "The marketplaces you provided are not valid for region.")
        return set(marketplaces) or {m for m in MARKETPLACES if region_of(m) == home}

    def has_region(self, seller: str) -> bool:
        with self._lock:
            return seller in self._regions

    def in_region(self, seller: str, history: OrderHistory) -> bool:
        """An order by id is found only in its seller's region (once the seller has one)."""
        with self._lock:
            home = self._regions.get(seller)
        return home is None or region_of(history.marketplace_id) == home

    # --- quotas -------------------------------------------------------------------------------
    def rate(self, operation: str) -> float:
        return USAGE_PLANS[operation][0] * self.speed

    def usage_plans(self) -> dict[str, tuple[float, int]]:
        """(rate, burst) per operation, as a client learns them from this emulator's `x-amzn-RateLimit-Limit` on
        its first 200. A client that starts from Amazon's own plans and meets a 429 first (429s carry no rate
        header) waits for Amazon's rate, 3 minutes a searchOrders token, against an emulator thousands of times
        faster: tests give their clients these instead."""
        return {operation: (self.rate(operation), burst) for operation, (_, burst) in USAGE_PLANS.items()}

    def take_quota(self, seller: str, operation: str) -> None:
        key = (seller, operation)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate(operation), USAGE_PLANS[operation][1])
        if bucket.try_take() > 0:
            raise ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")

    # --- data ---------------------------------------------------------------------------------
    def index_lag(self, history: OrderHistory, ts: datetime) -> timedelta:
        """How long one change of an order takes to reach the search index: a function of the seed, the order and
        the change, so every query agrees."""
        if not self.index_lag_s:
            return timedelta(0)
        digest = hashlib.sha256(f"{self.seller.seed}:lag:{history.order_id}:{ts.isoformat()}".encode()).digest()
        return timedelta(seconds=self.index_lag_s * int.from_bytes(digest[:4], "big") / 0xFFFFFFFF)

    def indexed_as_of(self, history: OrderHistory, as_of: datetime) -> datetime | None:
        """The moment whose state of the order the search index shows at `as_of` (the time of its newest change
        that has reached the index), or None when not even its creation has. getOrder reads the order itself and
        sees every change at once."""
        if not self.index_lag_s:
            return as_of
        visible = None
        for ts, _ in history.events:
            if ts > as_of:
                break
            if ts + self.index_lag(history, ts) <= as_of:
                visible = ts
        return visible

    def window_orders(self, seller: str, field: str, start: datetime, end: datetime, as_of: datetime,
                      statuses: set[str] | None = None, fulfilled_by: set[str] | None = None,
                      marketplaces: set[str] | None = None, indexed: bool = True) -> list[OrderHistory]:
        """Orders whose createdTime or lastUpdatedTime (as the search index shows them at `as_of`, or as they
        truly are when not `indexed`) falls in [start, end), in a stable order."""
        with self._lock:
            candidates = self.seller.candidates(seller, start, end)
        hits = []
        for o in candidates:
            seen = self.indexed_as_of(o, as_of) if indexed else as_of
            state = o.state_as_of(seen) if seen is not None else None
            if state is None:
                continue
            ts = o.created_at if field == "created" else state[0]
            if not (start <= ts < end):
                continue
            if statuses and state[1] not in statuses:
                continue
            if fulfilled_by and o.fulfilled_by not in fulfilled_by:
                continue
            if marketplaces and o.marketplace_id not in marketplaces:
                continue
            hits.append((ts, o.order_id, o))
        hits.sort(key=lambda h: (h[0], h[1]))
        return [h[2] for h in hits]

    def true_window_orders(self, seller: str, start: datetime, end: datetime, as_of: datetime,
                           marketplaces: set[str] | None = None) -> list[OrderHistory]:
        """The orders truly last updated in [start, end) as of a moment: the ground truth, with no index lag."""
        return self.window_orders(seller, "lastUpdated", start, end, as_of, marketplaces=marketplaces, indexed=False)

    def cached_window(self, key: tuple, compute) -> list[OrderHistory]:
        with self._lock:
            hit = self._results.get(key)
            if hit is not None:
                self._results.move_to_end(key)
                return hit
        result = compute()
        with self._lock:
            self._results[key] = result
            while len(self._results) > 64:
                self._results.popitem(last=False)
        return result

    def add_order(self, seller: str, day, make) -> OrderHistory:
        """A new order of a seller (a Multi-Channel Fulfillment order), built by `make(index in its day)`."""
        with self._lock:
            history = self.seller.add(seller, day, make)
            self._results.clear()
        return history

    def override(self, history: OrderHistory) -> None:
        """An order's history as the seller's action left it (emulator/merchant.py); cached query results go."""
        with self._lock:
            self.seller.override(history)
            self._results.clear()

    def find_order(self, seller: str, order_id: str) -> OrderHistory | None:
        # The id encodes its creation day (middle part) and its index within that day (last five digits).
        _, day_part, tail = order_id.split("-")
        try:
            day = datetime.fromordinal(int(day_part)).date() if int(day_part) > 0 else None
        except ValueError:
            return None
        if day is None:
            return None
        with self._lock:
            orders = self.seller.orders_created_on(seller, day)
        index = int(tail[-5:])
        if index < len(orders) and orders[index].order_id == order_id:
            return orders[index]
        return None


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _encode_token(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str, name: str = "paginationToken") -> dict:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict):
            raise ValueError
        return data
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"{name} is malformed") from None


def _known(params: dict[str, list[str]], names: set[str]) -> dict[str, list[str]]:
    """Amazon ignores query parameters it does not know (clients send extra ones), and so does the emulator."""
    return {k: v for k, v in params.items() if k in names}


def _resumed(params: dict[str, list[str]], token_name: str, free: set[str]) -> dict[str, list[str]]:
    """A page request as Amazon's samples and common clients send it: the token, perhaps with a few of the first
    request's parameters (v0 clients repeat MarketplaceIds). The token carries the query; parameters the request
    leaves out come from it, and ones it repeats must be the same (checked when the page is cut)."""
    token = _single(params, token_name)
    if token is None:
        return params
    query = _decode_token(token, token_name).get("q")
    if not isinstance(query, dict):
        raise invalid(f"{token_name} is malformed")
    carried = {k: [",".join(v)] for k, v in query.items() if k not in params and isinstance(v, list)}
    return {**carried, **params}


def _marketplaces(params: dict[str, list[str]], name: str) -> list[str]:
    marketplaces = _multi(params, name)
    if len(marketplaces) > 50:
        raise invalid(f"{name} accepts at most 50 values")
    if bad := [m for m in marketplaces if m not in MARKETPLACES]:
        raise invalid(f"unknown {name}: {bad}")
    return marketplaces


def _page_size(params: dict[str, list[str]], name: str) -> int:
    raw = _single(params, name) or "100"
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise invalid(f"{name} must be between 1 and 100")
    return int(raw)


def _enum_list(params: dict[str, list[str]], name: str, allowed) -> list[str]:
    values = _multi(params, name)
    if bad := [v for v in values if v not in allowed]:
        raise invalid(f"invalid {name}: {bad}")
    return values


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SPAPIEmulator/1.0"
    # Headers and body go out as two writes; with Nagle's algorithm on, a keep-alive client's delayed ACK holds
    # the body back ~40 ms, which is most of a small call's time (getOrderItems).
    disable_nagle_algorithm = True
    state: EmulatorState  # set on the subclass made per server

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests read data, not access logs
        pass

    def date_time_string(self, timestamp=None) -> str:
        """The Date header, on the emulator's clock (clients learn Amazon's time from it)."""
        return formatdate(self.state.clock.now().timestamp() if timestamp is None else timestamp, usegmt=True)

    # --- plumbing -----------------------------------------------------------------------------
    def _send(self, status: int, body: dict | bytes, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):  # noqa: N802
        self._dispatch("GET")

    def do_DELETE(self):  # noqa: N802
        self._dispatch("DELETE")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self):  # noqa: N802
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            if path == "/auth/o2/token" and method == "POST":
                return self._lwa_token()
            if method == "GET" and path.startswith(DOWNLOAD_PATH):
                status, content, headers = self.state.reports.download(path[len(DOWNLOAD_PATH):])
                return self._send(status, content, {"Content-Type": "application/xml", **headers})
            if method == "PUT" and path.startswith(UPLOAD_PATH):
                status, content = self.state.feeds.upload(path[len(UPLOAD_PATH):], self._read_body())
                return self._send(status, content, {"Content-Type": "application/xml"})
            if method == "GET" and path.startswith(RESULT_PATH):
                status, content = self.state.feeds.download(path[len(RESULT_PATH):])
                return self._send(status, content, {"Content-Type": "text/xml;charset=UTF-8"})
            if path.startswith("/_emulator/"):
                return self._control(method, path)
            if method == "POST" and (m := CONFIRM_PATH_RE.match(path)):
                order_id, body = m.group(1), self._read_body()
                return self._api("confirmShipment", path,
                                 lambda c: self._confirm_shipment(c[0], order_id, body),
                                 rate_header_on=(204, 400, 404, 429, 500, 503))
            if path == FEEDS_PATH or path.startswith((FEEDS_PATH + "/", FEED_DOCUMENTS_PATH)):
                return self._feeds(method, path, params)
            if path == FULFILLMENT_PATH or path.startswith(FULFILLMENT_PATH + "/"):
                return self._fulfillment(method, path, params)
            if method == "GET" and path == SEARCH_PATH:
                return self._api("searchOrders", path, lambda c: self._search_orders(c[0], params))
            if method == "GET" and path.startswith(SEARCH_PATH + "/"):
                order_id = path[len(SEARCH_PATH) + 1:]
                return self._api("getOrder", path, lambda c: self._get_order(c[0], order_id, params))
            if method == "GET" and path == V0_ORDERS_PATH:
                return self._api("getOrders", path, lambda c: self._get_orders_v0(c, params), allow_rdt=True)
            if method == "GET" and (m := V0_ORDER_PATH_RE.match(path)):
                order_id, what = m.groups()
                if what == "orderItems":
                    return self._api("getOrderItems", path,
                                     lambda c: self._get_order_items_v0(c, order_id, params), allow_rdt=True)
                return self._api("getOrderAddress", path,
                                 lambda c: self._get_order_address_v0(c, order_id), allow_rdt=True)
            if path.startswith(NOTIFICATIONS_PATH + "/"):
                return self._notifications(method, path)
            if path == REPORTS_PATH or path.startswith((REPORTS_PATH + "/", DOCUMENTS_PATH + "/")):
                return self._reports(method, path, params)
            if method == "POST" and path == RDT_PATH:
                body = self._read_body()
                return self._api("createRestrictedDataToken", path, lambda c: self._create_rdt(c[0], body),
                                 rate_header_on=(200, 400, 404, 429, 500, 503))
            self._send(404, ApiError(404, "NotFound", "Resource not found.").body())
        except ApiError as e:
            self._send(e.status, e.body())

    def _reports(self, method: str, path: str, params: dict[str, list[str]]) -> None:
        """The Reports API 2021-06-30 (emulator/reports.py), whose model declares the rate header on 2xx, 400, 404."""
        reports, on = self.state.reports, (200, 202, 400, 404)
        if path == REPORTS_PATH and method == "POST":
            body = self._read_body()
            return self._api("createReport", path, lambda c: reports.create(c[0], body), rate_header_on=on)
        if path == REPORTS_PATH and method == "GET":
            return self._api("getReports", path, lambda c: reports.search(c[0], params), rate_header_on=on)
        if path.startswith(DOCUMENTS_PATH + "/") and method == "GET":
            document_id, base = path[len(DOCUMENTS_PATH) + 1:], f"http://{self.headers.get('Host')}"
            return self._api("getReportDocument", path, lambda c: reports.document(c[0], document_id, base, params),
                             rate_header_on=on)
        report_id = path[len(REPORTS_PATH) + 1:]
        if method == "GET":
            return self._api("getReport", path, lambda c: reports.get(c[0], report_id), rate_header_on=on)
        if method == "DELETE":
            return self._api("cancelReport", path, lambda c: reports.cancel(c[0], report_id), rate_header_on=on)
        self._send(404, ApiError(404, "NotFound", "Resource not found.").body())

    def _feeds(self, method: str, path: str, params: dict[str, list[str]]) -> None:
        """The Feeds API 2021-06-30 (emulator/feeds.py); the model declares the rate header on every response."""
        feeds, on = self.state.feeds, (200, 201, 202, 400, 401, 403, 404, 413, 415, 429, 500, 503)
        base = f"http://{self.headers.get('Host')}"
        if path == FEED_DOCUMENTS_PATH and method == "POST":
            body = self._read_body()
            return self._api("createFeedDocument", path, lambda c: feeds.create_document(c[0], body, base),
                             rate_header_on=on)
        if path.startswith(FEED_DOCUMENTS_PATH + "/") and method == "GET":
            document_id = path[len(FEED_DOCUMENTS_PATH) + 1:]
            return self._api("getFeedDocument", path, lambda c: feeds.result_document(c[0], document_id, base),
                             rate_header_on=on)
        if path == FEEDS_PATH and method == "POST":
            body = self._read_body()
            return self._api("createFeed", path, lambda c: feeds.create(c[0], body), rate_header_on=on)
        if path == FEEDS_PATH and method == "GET":
            return self._api("getFeeds", path, lambda c: feeds.search(c[0], params), rate_header_on=on)
        feed_id = path[len(FEEDS_PATH) + 1:]
        if path.startswith(FEEDS_PATH + "/") and method == "GET":
            return self._api("getFeed", path, lambda c: feeds.get(c[0], feed_id), rate_header_on=on)
        if path.startswith(FEEDS_PATH + "/") and method == "DELETE":
            return self._api("cancelFeed", path, lambda c: feeds.cancel(c[0], feed_id), rate_header_on=on)
        self._send(404, ApiError(404, "NotFound", "Resource not found.").body())

    def _fulfillment(self, method: str, path: str, params: dict[str, list[str]]) -> None:
        """Fulfillment Outbound 2020-07-01 (emulator/fulfillment.py); the rate header on 200, 400 and 404."""
        fo = self.state.fulfillment
        if path == PREVIEW_PATH and method == "POST":
            body = self._read_body()
            return self._api("getFulfillmentPreview", path, lambda c: fo.preview(c[0], body))
        if path == FULFILLMENT_PATH and method == "POST":
            body = self._read_body()
            return self._api("createFulfillmentOrder", path, lambda c: fo.create(c[0], body))
        if path == FULFILLMENT_PATH and method == "GET":
            return self._api("listAllFulfillmentOrders", path, lambda c: fo.list(c[0], params))
        parts = [unquote(p) for p in path[len(FULFILLMENT_PATH) + 1:].split("/")]
        if len(parts) == 1 and method == "GET":
            return self._api("getFulfillmentOrder", path, lambda c: fo.get(c[0], parts[0]))
        if len(parts) == 2 and parts[1] == "cancel" and method == "PUT":
            return self._api("cancelFulfillmentOrder", path, lambda c: fo.cancel(c[0], parts[0]))
        self._send(404, ApiError(404, "NotFound", "Resource not found.").body())

    def _notifications(self, method: str, path: str) -> None:
        """The Notifications API v1: destinations are grantless (an application's token), subscriptions the
        seller's. The model declares the rate header on every response."""
        notes, on = self.state.notifications, (200, 400, 403, 404, 409, 413, 415, 429, 500, 503)
        if path == DESTINATIONS_PATH:
            if method == "POST":
                body = self._read_body()
                return self._api("createDestination", path, lambda c: notes.create_destination(body),
                                 rate_header_on=on, grantless=True)
            return self._api("getDestinations", path, lambda c: notes.get_destinations(), rate_header_on=on,
                             grantless=True)
        if path.startswith(DESTINATIONS_PATH + "/"):
            destination_id = path[len(DESTINATIONS_PATH) + 1:]
            if method == "DELETE":
                return self._api("deleteDestination", path, lambda c: notes.delete_destination(destination_id),
                                 rate_header_on=on, grantless=True)
            return self._api("getDestination", path, lambda c: notes.get_destination(destination_id),
                             rate_header_on=on, grantless=True)
        if path.startswith(SUBSCRIPTIONS_PATH + "/"):
            parts = path[len(SUBSCRIPTIONS_PATH) + 1:].split("/")
            if len(parts) == 1 and method == "POST":
                body = self._read_body()
                return self._api("createSubscription", path,
                                 lambda c: notes.create_subscription(c[0], parts[0], body), rate_header_on=on)
            if len(parts) == 1:
                return self._api("getSubscription", path, lambda c: notes.get_subscription(c[0], parts[0]),
                                 rate_header_on=on)
            if len(parts) == 2 and method == "DELETE":
                # Grantless in the model, but reported to need the seller's token (docs#1850): the seller's.
                return self._api("deleteSubscriptionById", path,
                                 lambda c: notes.delete_subscription(c[0], parts[0], parts[1]), rate_header_on=on)
        self._send(404, ApiError(404, "NotFound", "Resource not found.").body())

    def _api(self, operation: str, path: str, handler, allow_rdt: bool = False,
             rate_header_on: tuple[int, ...] = (200, 400, 404), grantless: bool = False) -> None:
        """One SP-API operation: faults, authorisation (an LWA token, or an RDT where `allow_rdt`), quota, then
        `handler((seller, granted data elements))`. `rate_header_on`: the statuses whose responses the model
        declares `x-amzn-RateLimit-Limit` on (the Orders models: 200, 400 and 404 only)."""
        st = self.state
        st.stats[f"{operation}.calls"] += 1
        delay = st.faults.delay()
        if delay:
            time.sleep(delay)
        fault = st.faults.draw()
        if fault == "drop":
            st.stats[f"{operation}.dropped"] += 1
            return self._drop()
        rate_header = {"x-amzn-RateLimit-Limit": f"{st.rate(operation):g}"}
        try:
            caller = st.authorise(self.headers.get("x-amz-access-token"), self.command, path, allow_rdt=allow_rdt)
            if (caller[0] == GRANTLESS) != grantless:
                raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                               "This operation needs a grantless token." if grantless
                               else "This operation needs a selling partner's authorization.")
            if fault == "throttle":
                raise ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
            if fault == "server_error":
                raise ApiError(500, "InternalFailure", "We encountered an internal error. Please try again.")
            if fault == "unavailable":
                raise ApiError(503, "ServiceUnavailable", "Service temporarily unavailable. Please try again.")
            st.take_quota(caller[0], operation)
            if operation == "searchOrders" and (injected := st.next_injected_page()) is not None:
                st.stats[f"{operation}.200"] += 1
                return self._send(200, injected, rate_header)
            status, body = handler(caller)
        except ApiError as e:
            st.stats[f"{operation}.{e.status}"] += 1
            return self._send(e.status, e.body(), rate_header if e.status in rate_header_on else {})
        st.stats[f"{operation}.{status}"] += 1
        if fault == "lost_response":
            st.stats[f"{operation}.lost_response"] += 1
            return self._drop()
        raw = b"" if body is None else json.dumps(body).encode()
        if fault == "truncate":
            raw = raw[: len(raw) // 2]
        self._send(status, raw, rate_header)

    def _cut_page(self, seller: str, params: dict[str, list[str]], token_name: str, free: set[str],
                  field: str, start: datetime, end: datetime, page_size: int,
                  compute) -> tuple[list[OrderHistory], datetime, datetime, str | None]:
        """One page of a window query, and the token for the next. A token is bound to the request's other
        parameters (all but `free`), lives 24 hours, and pages through the result as it was at the first page, so
        orders changing meanwhile neither shift nor repeat; they show up in the window of their new update time.
        Returns (page, snapshot time, effective end, next token)."""
        st = self.state
        now = st.clock.now()
        bound = {k: sorted(_multi(params, k)) for k in sorted(set(params) - free)}
        bound_hash = hashlib.sha256((seller + json.dumps(bound, sort_keys=True)).encode()).hexdigest()[:24]
        offset, snapshot = 0, now
        token = _single(params, token_name)
        if token is not None:
            data = _decode_token(token, token_name)
            if data.get("h") != bound_hash:
                raise invalid(f"{token_name} does not match the other parameters of this request")
            issued = datetime.fromisoformat(data["i"])
            if now - issued > PAGINATION_TOKEN_TTL:
                raise invalid(f"{token_name} has expired")
            offset, snapshot = int(data["o"]), datetime.fromisoformat(data["s"])
            end = datetime.fromisoformat(data["e"])  # a defaulted *Before stays what the first page used
        key = (seller, field, bound_hash, snapshot.isoformat(), end.isoformat())
        hits = st.cached_window(key, lambda: compute(start, end, snapshot))
        page = hits[offset: offset + page_size]
        next_token = None
        if offset + page_size < len(hits):
            next_token = _encode_token({"h": bound_hash, "o": offset + page_size, "s": snapshot.isoformat(),
                                        "e": end.isoformat(), "i": now.isoformat(), "q": bound})
        return page, snapshot, end, next_token

    # --- LWA ----------------------------------------------------------------------------------
    def _lwa_token(self) -> None:
        form = parse_qs(self._read_body().decode("utf-8", "replace"))
        get = lambda k: (form.get(k) or [""])[0]  # noqa: E731
        self.state.stats["lwa.calls"] += 1
        if get("grant_type") == "client_credentials":
            # A grantless token, for the operations no seller authorises (the Notifications API's destinations).
            if not (get("client_id") and get("client_secret")):
                return self._send(400, {"error": "invalid_request",
                                        "error_description": "client_id and client_secret are required"})
            if get("scope") != NOTIFICATIONS_SCOPE:
                return self._send(400, {"error": "invalid_scope",
                                        "error_description": f"scope must be {NOTIFICATIONS_SCOPE}"})
            token = self.state.issue_token(None)
            return self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": ACCESS_TOKEN_TTL})
        if get("grant_type") != "refresh_token":
            return self._send(400, {"error": "unsupported_grant_type",
                                    "error_description": "Only the refresh_token and client_credentials grants "
                                                         "are emulated."})
        if not (get("client_id") and get("client_secret") and get("refresh_token")):
            return self._send(400, {"error": "invalid_request",
                                    "error_description": "client_id, client_secret and refresh_token are required"})
        token = self.state.issue_token(get("refresh_token"))
        self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": ACCESS_TOKEN_TTL,
                         "refresh_token": get("refresh_token")})

    # --- Orders v2026-01-01 -------------------------------------------------------------------
    def _search_orders(self, seller: str, params: dict[str, list[str]]) -> tuple[int, dict]:
        st = self.state
        params = _resumed(_known(params, SEARCH_PARAMS), "paginationToken", PAGINATION_FREE_PARAMS)
        field, start, end, before_name = self._date_window(params, "createdAfter", "lastUpdatedAfter")
        marketplaces = st.regional_marketplaces(seller, _marketplaces(params, "marketplaceIds"))
        statuses = _enum_list(params, "fulfillmentStatuses", FULFILLMENT_STATUSES)
        fulfilled_by = _enum_list(params, "fulfilledBy", FULFILLED_BY)
        included = _enum_list(params, "includedData", INCLUDED_DATA)
        page_size = _page_size(params, "maxResultsPerPage")
        page, snapshot, end, next_token = self._cut_page(
            seller, params, "paginationToken", PAGINATION_FREE_PARAMS, field, start, end, page_size,
            lambda s, e, as_of: st.window_orders(seller, field, s, e, as_of, set(statuses), set(fulfilled_by),
                                                 marketplaces))
        included_set = set(included)
        body: dict = {"orders": [filter_included(o.to_api(st.indexed_as_of(o, snapshot)), included_set)
                                 for o in page]}
        if next_token:
            body["pagination"] = {"nextToken": next_token}
        body[before_name] = iso(end)
        return 200, body

    def _date_window(self, params: dict[str, list[str]], created_after_name: str,
                     updated_after_name: str, offsets: bool = True) -> tuple[str, datetime, datetime, str]:
        """The rules both Orders versions share: exactly one of the two *After parameters, no *Before of the other
        kind, and a *Before (defaulted to now - 2 min) between *After and two minutes before now.
        Returns (field, start, end, the *Before parameter's name)."""
        created_before_name = created_after_name.replace("After", "Before")
        updated_before_name = updated_after_name.replace("After", "Before")
        created_after, updated_after = _single(params, created_after_name), _single(params, updated_after_name)
        if (created_after is None) == (updated_after is None):
            raise invalid(f"Exactly one of {created_after_name} and {updated_after_name} must be provided")
        if created_after is not None and _single(params, updated_before_name) is not None:
            raise invalid(f"{updated_before_name} cannot be set when {created_after_name} is set")
        if updated_after is not None and _single(params, created_before_name) is not None:
            raise invalid(f"{created_before_name} cannot be set when {updated_after_name} is set")
        field = "created" if created_after is not None else "lastUpdated"
        after_name, before_name = ((created_after_name, created_before_name) if field == "created"
                                   else (updated_after_name, updated_before_name))
        start = parse_timestamp(after_name, created_after or updated_after, offsets)
        before_raw = _single(params, before_name)
        latest = self.state.clock.now() - MIN_LAG
        end = (parse_timestamp(before_name, before_raw, offsets) if before_raw is not None
               else latest.replace(microsecond=0))
        if end < start:
            raise invalid(f"{before_name} must be equal to or after {after_name}")
        if end > latest:
            raise invalid(f"{before_name} must be at least two minutes before the time of the request")
        return field, start, end, before_name

    def _get_order(self, seller: str, order_id: str, params: dict[str, list[str]]) -> tuple[int, dict]:
        included = _enum_list(params, "includedData", INCLUDED_DATA)
        if not ORDER_ID_RE.match(order_id):
            raise invalid(f"orderId {order_id!r} is not in 3-7-7 format")
        history = self.state.find_order(seller, order_id)
        order = history.to_api(self.state.clock.now()) if history and self.state.in_region(seller, history) else None
        if order is None:
            raise ApiError(404, "NotFound", f"Order {order_id} was not found.")
        return 200, {"order": filter_included(order, set(included))}

    # --- Orders v0 and the Tokens API ---------------------------------------------------------
    def _confirm_shipment(self, seller: str, order_id: str, body: bytes) -> tuple[int, None]:
        if not ORDER_ID_RE.match(order_id):
            raise ApiError(400, "Invalid Input", "Invalid Input", f"orderId {order_id!r} is not in 3-7-7 format")
        return self.state.merchant.confirm_shipment(seller, order_id, body)

    def _get_orders_v0(self, caller: tuple[str, frozenset[str]], params: dict[str, list[str]]) -> tuple[int, dict]:
        seller, grant = caller
        st = self.state
        params = _resumed(_known(params, V0_ORDERS_PARAMS), "NextToken", V0_PAGINATION_FREE_PARAMS)
        marketplaces = _marketplaces(params, "MarketplaceIds")
        if not marketplaces:
            raise invalid("MarketplaceIds is required")
        marketplaces = st.regional_marketplaces(seller, marketplaces)
        field, start, end, before_name = self._date_window(params, "CreatedAfter", "LastUpdatedAfter", offsets=False)
        statuses = _enum_list(params, "OrderStatuses", V0_ORDER_STATUSES)
        channels = _enum_list(params, "FulfillmentChannels", V0_CHANNEL_FILTER)
        page_size = _page_size(params, "MaxResultsPerPage")
        page, snapshot, end, next_token = self._cut_page(
            seller, params, "NextToken", V0_PAGINATION_FREE_PARAMS, field, start, end, page_size,
            lambda s, e, as_of: st.window_orders(seller, field, s, e, as_of,
                                                 {V0_STATUS_FILTER[x] for x in statuses},
                                                 {V0_CHANNEL_FILTER[x] for x in channels}, marketplaces))
        payload: dict = {"Orders": [v0_order(o, st.indexed_as_of(o, snapshot), grant) for o in page]}
        if next_token:
            payload["NextToken"] = next_token
        payload[before_name] = iso(end)
        return 200, {"payload": payload}

    def _v0_order(self, seller: str, order_id: str) -> OrderHistory:
        if not ORDER_ID_RE.match(order_id):
            raise invalid(f"orderId {order_id!r} is not in 3-7-7 format")
        history = self.state.find_order(seller, order_id)
        if (history is None or not self.state.in_region(seller, history)
                or history.state_as_of(self.state.clock.now()) is None):
            raise ApiError(404, "NotFound", f"Order {order_id} was not found.")
        return history

    def _get_order_items_v0(self, caller: tuple[str, frozenset[str]], order_id: str,
                            params: dict[str, list[str]]) -> tuple[int, dict]:
        history = self._v0_order(caller[0], order_id)
        items = v0_items(history, self.state.clock.now(), caller[1]) or []
        token = _single(params, "NextToken")
        offset = 0
        if token is not None:
            data = _decode_token(token, "NextToken")
            if data.get("order") != order_id:
                raise invalid("NextToken belongs to another order")
            offset = int(data["o"])
        size = self.state.v0_items_page_size
        payload: dict = {"AmazonOrderId": order_id, "OrderItems": items[offset: offset + size]}
        if offset + size < len(items):
            payload["NextToken"] = _encode_token({"order": order_id, "o": offset + size})
        return 200, {"payload": payload}

    def _get_order_address_v0(self, caller: tuple[str, frozenset[str]], order_id: str) -> tuple[int, dict]:
        seller, grant = caller
        history = self._v0_order(seller, order_id)
        payload: dict = {"AmazonOrderId": order_id}
        state = history.state_as_of(self.state.clock.now())
        if state and state[1] in ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"):
            # The operation is restricted as a whole: an RDT for its path gets the full address.
            payload["ShippingAddress"] = shipping_address(history, restricted=RDT_GRANT in grant)
        return 200, {"payload": payload}

    def _create_rdt(self, seller: str, raw: bytes) -> tuple[int, dict]:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise ApiError(400, "InvalidRequest", "Request is missing or has invalid parameters",
                           "The body is not JSON.") from None
        resources = body.get("restrictedResources") if isinstance(body, dict) else None
        if not isinstance(resources, list) or not resources or len(resources) > 50:
            raise ApiError(400, "InvalidRequest", "Request is missing or has invalid parameters",
                           "restrictedResources must list 1 to 50 resources.")
        for r in resources:
            if (not isinstance(r, dict) or r.get("method") not in ("GET", "PUT", "POST", "DELETE")
                    or not str(r.get("path", "")).startswith("/")
                    or not set(r.get("dataElements") or ()) <= DATA_ELEMENTS):
                raise ApiError(400, "InvalidRequest", "Request is missing or has invalid parameters",
                               "Resource not provided.")
        if self.state.faults.plan.deny_rdt:
            # The seller has not granted the restricted role this application would need.
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "The application does not have the role required for the restricted resource.")
        token = self.state.issue_rdt(seller, resources)
        return 200, {"restrictedDataToken": token, "expiresIn": RDT_TTL}

    # --- test controls (not part of SP-API) ---------------------------------------------------
    def _control(self, method: str, path: str) -> None:
        st = self.state
        body = json.loads(self._read_body() or b"{}") if method == "POST" else {}
        if path == "/_emulator/clock":
            if method == "POST":
                st.clock.set(_when(body["now"]))
            return self._send(200, {"now": iso(st.clock.now())})
        if path == "/_emulator/faults" and method == "POST":
            try:
                st.faults.configure(FaultPlan.from_dict(body))
            except (TypeError, ValueError) as e:
                return self._send(400, {"error": str(e)})
            return self._send(200, st.faults.plan.to_dict())
        if path == "/_emulator/pages" and method == "POST":
            # {"bodies": [base64, ...]}: the next searchOrders responses, byte for byte.
            st.inject_pages([base64.b64decode(b) for b in body["bodies"]])
            return self._send(200, {"queued": len(body["bodies"])})
        if path == "/_emulator/notification_faults" and method == "POST":
            try:
                st.notifications.faults = NotificationFaults.from_dict(body)
            except (TypeError, ValueError) as e:
                return self._send(400, {"error": str(e)})
            return self._send(200, st.notifications.faults.to_dict())
        if path == "/_emulator/publish" and method == "POST":
            return self._send(200, {"sent": st.notifications.publish_due()})
        if path == "/_emulator/stats":
            return self._send(200, dict(st.stats))
        if path == "/_emulator/merchant":
            return self._send(200, st.merchant.report())
        if path == "/_emulator/fulfillment":
            try:
                return self._send(200, st.fulfillment.configure(body) if method == "POST" else st.fulfillment.report())
            except ValueError as e:
                return self._send(400, {"error": str(e)})
        if path == "/_emulator/ground_truth" and method == "POST":
            as_of = _when(body["as_of"]) if body.get("as_of") else st.clock.now()
            start, end = _when(body["last_updated_after"]), _when(body["last_updated_before"])
            marketplaces = set(body.get("marketplace_ids") or [])
            hits = st.true_window_orders(seller_key(body["refresh_token"]), start, end, as_of,
                                         marketplaces or None)
            return self._send(200, {"as_of": iso(as_of), "orders": [o.to_api(as_of) for o in hits]})
        self._send(404, {"error": f"no emulator control at {method} {path}"})


class Emulator:
    """A running emulator: `url` to talk to it, `state` to steer it from the same process."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, seed: int = 42, speed: float = 1.0,
                 orders_per_day: int = 400, report_processing_s: float | None = None, report_workers: int = 0,
                 index_lag_s: float = DEFAULT_INDEX_LAG_S, sqs_endpoint: str | None = None,
                 feed_processing_s: float = DEFAULT_FEED_PROCESSING_S):
        self.state = EmulatorState(seed=seed, speed=speed, orders_per_day=orders_per_day,
                                   report_processing_s=report_processing_s, report_workers=report_workers,
                                   index_lag_s=index_lag_s, sqs_endpoint=sqs_endpoint,
                                   feed_processing_s=feed_processing_s)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sp-api-emulator", daemon=True)
        self._thread.start()
        self.state.notifications.start()
        return self

    def serve_forever(self) -> None:
        self.state.notifications.start()
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.state.reports.close()
        self.state.notifications.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
