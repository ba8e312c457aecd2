"""Faults the emulator can inject: 429 storms, 5xx, slow or dropped responses, truncated bodies, responses lost
after the request took effect, revoked tokens, refused restricted data tokens."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields


@dataclass
class FaultPlan:
    """Probabilities per request (0..1) for each fault, plus their shapes. All zero by default."""

    throttle: float = 0.0  # 429 QuotaExceeded that ignores the bucket
    storm_length: int = 1  # a 429 fault repeats for this many consecutive requests
    server_error: float = 0.0  # 500 InternalFailure
    unavailable: float = 0.0  # 503 ServiceUnavailable
    slow: float = 0.0  # the response is delayed by slow_seconds
    slow_seconds: float = 0.5
    drop: float = 0.0  # the connection closes without a response
    truncate: float = 0.0  # a 200 whose JSON body is cut in half
    lost_response: float = 0.0  # the request takes effect, then the connection closes before the response
    revoke_token_every: int = 0  # every Nth authorised call finds its access token revoked (403)
    deny_rdt: bool = False  # createRestrictedDataToken answers 403: the seller has not granted the restricted role
    report_fatal: float = 0.0  # a report request ends FATAL (with an error document)
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict) -> FaultPlan:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


class FaultInjector:
    """Draws the fault for each request from a seeded generator, so a run can be replayed."""

    def __init__(self, plan: FaultPlan | None = None):
        self._lock = threading.Lock()
        self.configure(plan or FaultPlan())

    def configure(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed)
            self._storm_left = 0
            self._authorised_calls = 0

    def draw(self) -> str | None:
        """The fault for the next API request: throttle, server_error, unavailable, drop, truncate,
        lost_response, or None."""
        with self._lock:
            p = self.plan
            if self._storm_left > 0:
                self._storm_left -= 1
                return "throttle"
            roll = self._rng.random()
            for name in ("throttle", "server_error", "unavailable", "drop", "truncate", "lost_response"):
                chance = getattr(p, name)
                if roll < chance:
                    if name == "throttle":
                        self._storm_left = max(0, p.storm_length - 1)
                    return name
                roll -= chance
            return None

    def delay(self) -> float:
        with self._lock:
            if self.plan.slow and self._rng.random() < self.plan.slow:
                return self.plan.slow_seconds
            return 0.0

    def report_fatal(self) -> bool:
        """Whether the report requested now will end FATAL."""
        with self._lock:
            return bool(self.plan.report_fatal) and self._rng.random() < self.plan.report_fatal

    def revoke_now(self) -> bool:
        """Count an authorised call; True when this one should find its token revoked."""
        with self._lock:
            self._authorised_calls += 1
            n = self.plan.revoke_token_every
            return bool(n) and self._authorised_calls % n == 0
