"""What the emulated APIs share: the clock, the synthetic seller's orders and their search index, tokens, regions,
quotas, faults and call counts."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict, deque
from datetime import UTC, datetime, timedelta

from amazon_orders_pipeline.emulator.auth import Tokens, denied
from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.errors import ApiError
from amazon_orders_pipeline.emulator.faults import FaultInjector
from amazon_orders_pipeline.emulator.orders import OrderHistory
from amazon_orders_pipeline.emulator.seller import SyntheticSeller
from amazon_orders_pipeline.sp_api.marketplaces import region_of
from amazon_orders_pipeline.sp_api.rate_limit import USAGE_PLANS, TokenBucket

# Amazon's order index lags its orders: a change shows in lastUpdated*/created* queries some time after it happens
# (users report 3 minutes, hours at worst; docs#2131, jlevers#763). Each change's lag is drawn from [0, this].
DEFAULT_INDEX_LAG_S = 300.0
# The region of a seller whose first Orders request names no marketplace (the models' own host is NA's).
DEFAULT_REGION = "NA"


class EmulatorClock:
    """Real time plus an offset that tests can set, so late status changes can be watched happen."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def set(self, now: datetime) -> None:
        self._offset = now - datetime.now(UTC)


class EmulatorState:
    """What every emulated API shares: the clock, the synthetic seller and its orders as the search index shows
    them, the tokens, each seller's region and quotas, faults and call counts. It builds no API's backend."""

    def __init__(self, *, seed: int = 42, speed: float = 1.0, orders_per_day: int = 400,
                 index_lag_s: float = DEFAULT_INDEX_LAG_S):
        self.seller = SyntheticSeller(seed=seed, orders_per_day=orders_per_day)
        self.speed = speed
        self.index_lag_s = index_lag_s
        self.clock = EmulatorClock()
        self.faults = FaultInjector()
        self.stats: Counter[str] = Counter()
        self.tokens = Tokens()
        self.v0_items_page_size = 100  # getOrderItems page size; tests lower it to exercise NextToken
        self._injected: deque[bytes] = deque()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._results: OrderedDict[tuple, list[OrderHistory]] = OrderedDict()
        self._regions: dict[str, str] = {}
        self._lock = threading.Lock()

    # --- auth ---------------------------------------------------------------------------------
    @property
    def issued_tokens(self) -> list[str]:
        """Every access token and RDT handed out, for tests that scan for leaks."""
        return self.tokens.issued

    def issue_token(self, refresh_token: str | None) -> str:
        """An access token for a seller (its refresh token), or a grantless one (None)."""
        return self.tokens.issue_access(refresh_token, self.clock.now())

    def issue_rdt(self, seller: str, resources: list[dict]) -> str:
        return self.tokens.issue_rdt(seller, resources, self.clock.now())

    def authorise(self, token: str | None, method: str = "GET", path: str = "",
                  allow_rdt: bool = False) -> tuple[str, frozenset[str]]:
        """The caller behind a token and its grant for this request (auth.Tokens.caller); a revocation fault
        revokes the token now."""
        caller = self.tokens.caller(token, method, path, self.clock.now(), allow_rdt)
        if self.faults.revoke_now():
            self.tokens.revoke(token)
            raise denied()
        return caller

    def inject_pages(self, bodies: list[bytes]) -> None:
        """Serve these bodies, as they are, to the next searchOrders calls (bad-input tests)."""
        with self._lock:
            self._injected.extend(bodies)

    def next_injected_page(self) -> bytes | None:
        with self._lock:
            return self._injected.popleft() if self._injected else None

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
        # Newest first: a change older than the longest lag has surely reached the index, so the search stops
        # there without drawing its lag (for a window days old, no change's lag is drawn at all).
        surely = as_of - timedelta(seconds=self.index_lag_s)
        for ts, _ in reversed(history.events):
            if ts > as_of:
                continue
            if ts <= surely or ts + self.index_lag(history, ts) <= as_of:
                return ts
        return None

    def window_orders(self, seller: str, field: str, start: datetime, end: datetime, as_of: datetime,
                      statuses: set[str] | None = None, fulfilled_by: set[str] | None = None,
                      marketplaces: set[str] | None = None, indexed: bool = True) -> list[OrderHistory]:
        """Orders whose createdTime or lastUpdatedTime (as the search index shows them at `as_of`, or as they
        truly are when not `indexed`) falls in [start, end), in a stable order."""
        with self._lock:
            candidates = self.seller.candidates(seller, start, end)
        hits = []
        for o in candidates:
            # What the index shows is one of the order's own changes: an order with none in the window (or not
            # created in it) cannot be in it, whatever the lag, so only the others pay for the index's view.
            if (fulfilled_by and o.fulfilled_by not in fulfilled_by) or (
                    marketplaces and o.marketplace_id not in marketplaces):
                continue
            if not (start <= o.created_at < end if field == "created"
                    else any(start <= ts < end for ts, _ in o.events)):
                continue
            seen = self.indexed_as_of(o, as_of) if indexed else as_of
            state = o.state_as_of(seen) if seen is not None else None
            if state is None:
                continue
            ts = o.created_at if field == "created" else state[0]
            if not (start <= ts < end):
                continue
            if statuses and state[1] not in statuses:
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

    def orders_created_on(self, seller: str, day) -> tuple[int, list[OrderHistory]]:
        """(the day's version, its orders): the version moves when the seller's actions change one of them."""
        with self._lock:
            return self.seller.versions.get((seller, day), 0), self.seller.orders_created_on(seller, day)

    def day_version(self, seller: str, day) -> int:
        with self._lock:
            return self.seller.versions.get((seller, day), 0)

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
