"""Token buckets: the SP-API usage-plan model, used by the client to pace itself and by the emulator to enforce."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Documented default usage plans (requests per second, burst), per operation.
USAGE_PLANS: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "createRestrictedDataToken": (1.0, 10),
    # Reports API 2021-06-30 (the model's usage plans).
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReports": (0.0222, 10),
    "cancelReport": (0.0222, 10),
    "getReportDocument": (0.0167, 15),
    # Orders v0's shipment confirmation (a write; not on the 2027-03-27 removal list).
    "confirmShipment": (2.0, 10),
    # Feeds API 2021-06-30 (the model's usage plans).
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeeds": (0.0222, 10),
    "cancelFeed": (0.0222, 10),
    "getFeedDocument": (0.0222, 10),
    # Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment): 2 per second, burst 30 each.
    **{op: (2.0, 30) for op in ("getFulfillmentPreview", "createFulfillmentOrder", "getFulfillmentOrder",
                               "listAllFulfillmentOrders", "cancelFulfillmentOrder")},
    # Finances API v2024-06-19: listTransactions 0.5 per second, burst 10.
    "listTransactions": (0.5, 10),
    # Notifications API v1: every operation 1 per second, burst 5.
    **{op: (1.0, 5) for op in ("createDestination", "getDestinations", "getDestination", "deleteDestination",
                               "createSubscription", "getSubscription", "getSubscriptionById",
                               "deleteSubscriptionById")},
}


class TokenBucket:
    """A bucket of `burst` tokens refilled at `rate` per second. Thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, got rate={rate} burst={burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self) -> float:
        """Take a token if one is there and return 0; otherwise take nothing and return the seconds to wait."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate

    def reserve(self) -> float:
        """Claim the next token now, even one not yet refilled, and return how long to wait before using it.

        Reserving (rather than polling) lets several threads share one bucket fairly without a busy loop.
        """
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def seconds_for(self, tokens: int) -> float:
        """How long until `tokens` more calls could have been made, at the current rate (an estimate: other
        users of the bucket may take tokens meanwhile)."""
        with self._lock:
            self._refill(self._clock())
            return max(0.0, (tokens - self._tokens) / self.rate)

    def set_rate(self, rate: float) -> None:
        """Follow the rate Amazon reports in `x-amzn-RateLimit-Limit`."""
        if rate <= 0:
            return
        with self._lock:
            self._refill(self._clock())
            self.rate = rate

    def level(self) -> float:
        """The tokens in the bucket now (below 0 when calls have reserved tokens not yet refilled)."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def set_level(self, tokens: float) -> None:
        """Start from what another process left (a quota shared across runs), never above the burst."""
        with self._lock:
            self._refill(self._clock())
            self._tokens = min(float(self.burst), tokens)

    def drain(self) -> None:
        """Empty the bucket: after a 429 the server's bucket is empty whatever ours believed."""
        with self._lock:
            self._refill(self._clock())
            self._tokens = min(self._tokens, 0.0)
