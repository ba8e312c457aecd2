"""The HTTP core every SP-API module calls through: one account's client, paced by token buckets, retried with
backoff, re-authorised after a 403, paginated to the end, counted."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

import requests

from amazon_orders_pipeline.sp_api.auth import LwaAuth, LwaCredentials
from amazon_orders_pipeline.sp_api.pages import Page
from amazon_orders_pipeline.sp_api.rate_limit import USAGE_PLANS, TokenBucket

USER_AGENT = "amazon-orders-pipeline/0.1 (Language=Python)"

REGION_ENDPOINTS = {
    "NA": "https://sellingpartnerapi-na.amazon.com",
    "EU": "https://sellingpartnerapi-eu.amazon.com",
    "FE": "https://sellingpartnerapi-fe.amazon.com",
}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"

RETRYABLE_STATUS = {500, 502, 503, 504}
# A 403 refreshes the token and retries, once per token and this many times per call at most: a fresh token that
# is refused again means access is denied, not expired.
MAX_TOKEN_REFRESHES = 3
# Pace a little under the advertised rate: our clock and Amazon's disagree by network latency, and a 429
# costs far more than 2% of an interval.
RATE_SAFETY = 0.98


class SpApiError(RuntimeError):
    """A call that failed for good. Carries the HTTP status and Amazon's error code, never credentials."""

    def __init__(self, operation: str, status: int | None, code: str, message: str):
        super().__init__(f"{operation} failed: {status or 'no response'} {code}: {message}")
        self.operation, self.status, self.code = operation, status, code
        self.amazon_message = message


class UnclearOutcome(SpApiError):
    """A write whose outcome is unknown: the connection broke, Amazon answered 5xx, or its answer was unreadable.
    It may have taken effect; read back before sending it again."""


@dataclass
class RetryPolicy:
    max_attempts: int = 8  # per call, for 5xx, timeouts, resets and unreadable bodies
    max_throttled: int = 60  # 429s tolerated per call: quota waits are normal, not failures
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    timeout_s: float = 60.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with jitter: attempt 1 waits about base, doubling up to the cap."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return ceiling * rng.uniform(0.5, 1.0)


@dataclass
class ClientStats:
    calls: int = 0
    throttled_calls: int = 0
    retries: int = 0
    token_refreshes: int = 0
    quota_wait_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, float]:
        return {"calls": self.calls, "throttled_calls": self.throttled_calls, "retries": self.retries,
                "token_refreshes": self.token_refreshes, "quota_wait_s": round(self.quota_wait_s, 3)}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    data: dict
    request_id: str | None
    fetched_at: datetime


class AccessToken(Protocol):
    """What a call authorises with: the LWA access token, or a restricted data token (RDT)."""

    def token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


def encode_params(params: dict) -> dict[str, str]:
    """Arrays go comma-separated (the models' default collection format); everything else as text."""
    return {k: ",".join(v) if isinstance(v, list | tuple) else str(v) for k, v in params.items() if v is not None}


class SpApiClient:
    """One selling-partner account's connection to SP-API (or to the emulator, which speaks the same)."""

    def __init__(self, endpoint: str, auth: LwaAuth, *, retry: RetryPolicy | None = None,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 seed: int | None = None, usage_plans: dict[str, tuple[float, int]] | None = None):
        """`usage_plans`: (rate per second, burst) per operation until Amazon's `x-amzn-RateLimit-Limit` says
        otherwise; Amazon's documented plans by default."""
        self.endpoint = endpoint.rstrip("/")
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers["user-agent"] = USER_AGENT
        self.stats = ClientStats()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._buckets = {op: TokenBucket(rate * RATE_SAFETY, burst)
                         for op, (rate, burst) in {**USAGE_PLANS, **(usage_plans or {})}.items()}
        self._clock_offset: timedelta | None = None
        self.session.hooks["response"].append(self._observe_clock)

    def _observe_clock(self, resp: requests.Response, *args, **kwargs) -> None:
        """Learn the API's clock from a response's Date header (the token endpoint's too)."""
        text = resp.headers.get("Date")
        if not text:
            return
        try:
            server = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return
        if server.tzinfo is not None:
            self._clock_offset = server - datetime.now(UTC)

    def now(self) -> datetime:
        """The API's time, as its responses' Date headers tell it (to the second): change windows end at least two
        minutes before *Amazon's* now, so a worker whose clock runs ahead must not ask past it. Before any response
        has come, the access token is fetched (and cached) to learn it; without a Date header, local time."""
        if self._clock_offset is None:
            self.auth.token()
        return datetime.now(UTC) + (self._clock_offset or timedelta(0))

    @classmethod
    def for_credentials(cls, endpoint: str, token_url: str, credentials: LwaCredentials, **kwargs) -> SpApiClient:
        session = requests.Session()
        return cls(endpoint, LwaAuth(token_url, credentials, session=session), session=session, **kwargs)

    def bucket(self, operation: str) -> TokenBucket:
        """This client's pacing of an operation (its rate as Amazon last reported it)."""
        return self._buckets[operation]

    def quota_seconds(self, operation: str, calls: int) -> float:
        """The least time `calls` more calls of `operation` take under its usage plan, from now."""
        return self._buckets[operation].seconds_for(calls)

    # --- one call -----------------------------------------------------------------------------
    def call(self, operation: str, method: str, path: str, params: dict[str, str] | None = None, *,
             json_body: dict | None = None, access: AccessToken | None = None, idempotent: bool = True) -> Response:
        """One logical call: paced, authorised (by the LWA token unless `access` says otherwise), retried until it
        succeeds or the policy gives up. A call that is not `idempotent` (a write that would act twice) is retried
        only where Amazon surely did not act on it (429, 403 with a stale token); any other failure raises
        UnclearOutcome at once, for the caller to read back."""
        access = access or self.auth
        bucket = self._buckets[operation]
        attempts = throttles = 0
        refused: set[str] = set()  # tokens this call got a 403 with
        while True:
            wait = bucket.reserve()
            if wait > 0:
                self.stats.add(quota_wait_s=wait)
                self._sleep(wait)
            token = access.token()
            self.stats.add(calls=1)
            failure: str
            try:
                resp = self.session.request(method, self.endpoint + path, params=params, json=json_body,
                                            headers={"x-amz-access-token": token,
                                                     "x-amz-date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")},
                                            timeout=self.retry.timeout_s)
            except requests.RequestException as e:
                failure = f"{type(e).__name__}"
                if not idempotent:
                    raise UnclearOutcome(operation, None, type(e).__name__, "no response") from None
            else:
                limit = resp.headers.get("x-amzn-RateLimit-Limit")
                if limit:
                    try:
                        bucket.set_rate(float(limit) * RATE_SAFETY)
                    except ValueError:
                        pass
                if 200 <= resp.status_code < 300:  # 202 for createReport; an empty 200 for cancelReport
                    try:
                        # Only a DELETE (cancelReport) and a 204 (confirmShipment) answer with no body at all.
                        data = json.loads(resp.content) if resp.content or (
                            method != "DELETE" and resp.status_code != 204) else {}
                        if not isinstance(data, dict):
                            raise ValueError("not a JSON object")
                    except ValueError:
                        failure = "unreadable body"
                        if not idempotent:
                            raise UnclearOutcome(operation, resp.status_code, "Unreadable",
                                                 "the response body could not be read") from None
                    else:
                        return Response(resp.status_code, resp.content, data, resp.headers.get("x-amzn-RequestId"),
                                        datetime.now(UTC))
                elif resp.status_code == 429:
                    throttles += 1
                    self.stats.add(throttled_calls=1)
                    if throttles > self.retry.max_throttled:
                        raise self._error(operation, resp)
                    # Our bucket was optimistic: empty it, and back off a little more each time in a row.
                    bucket.drain()
                    pause = self.retry.backoff(throttles, self._rng) if throttles > 1 else 0.0
                    self.stats.add(quota_wait_s=pause)
                    self._sleep(pause)
                    continue
                elif resp.status_code == 403 and token not in refused and len(refused) < MAX_TOKEN_REFRESHES:
                    # Expired or revoked token: fetch a new one and try again, once per token. Threads that share
                    # a token all see its revocation, and one of them may already hold the next one.
                    refused.add(token)
                    access.invalidate(token)
                    self.stats.add(token_refreshes=1)
                    continue
                elif resp.status_code in RETRYABLE_STATUS:
                    failure = f"HTTP {resp.status_code}"
                    if not idempotent:
                        error = self._error(operation, resp)
                        raise UnclearOutcome(operation, error.status, error.code, error.amazon_message)
                else:
                    raise self._error(operation, resp)
            attempts += 1
            if attempts >= self.retry.max_attempts:
                raise SpApiError(operation, None, "RetriesExhausted",
                                 f"gave up after {attempts} attempts; last failure: {failure}")
            self.stats.add(retries=1)
            self._sleep(self.retry.backoff(attempts, self._rng))

    @staticmethod
    def _error(operation: str, resp: requests.Response) -> SpApiError:
        try:
            err = resp.json()["errors"][0]
            code, message = err.get("code", "Unknown"), err.get("message", "")
            if err.get("details"):
                message = f"{message} ({err['details']})"
        except (ValueError, KeyError, IndexError, TypeError):
            code, message = "Unknown", resp.text[:200]
        return SpApiError(operation, resp.status_code, code, message)

    def paginate(self, operation: str, path: str, params: dict, token_param: str,
                 next_of: Callable[[dict], str | None], next_token: str | None, first_page: int,
                 access: AccessToken | None = None) -> Iterator[Page]:
        """Every page of a listing, in order, from the one after `next_token` (numbered from `first_page`)."""
        base = encode_params(params)
        number = first_page
        while True:
            sent = dict(base)
            if next_token:
                sent[token_param] = next_token
            resp = self.call(operation, "GET", path, sent, access=access)
            next_token = next_of(resp.data) or None
            yield Page(number, sent, resp.request_id, resp.fetched_at, resp.body, resp.data, next_token, operation)
            if not next_token:
                return
            number += 1
