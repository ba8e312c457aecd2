"""The emulator's HTTP layer below the APIs: a route, a request, a reply, and the wrapper every SP-API operation
runs in (faults, authorisation, quota, the rate header)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from amazon_orders_pipeline.emulator.auth import GRANTLESS
from amazon_orders_pipeline.emulator.backends import Backends
from amazon_orders_pipeline.emulator.errors import ApiError
from amazon_orders_pipeline.emulator.state import EmulatorState


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    groups: tuple[str, ...]  # what the route's pattern captured
    base_url: str  # where this emulator is reached: pre-signed URLs start with it, whatever the request's Host


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict | bytes | None
    headers: dict[str, str] = field(default_factory=dict)


# A fault that breaks the connection instead of answering.
DROP = Reply(0, None)


@dataclass(frozen=True)
class Call:
    """What a route's handler gets: the request, its caller (seller and the data elements its token grants; empty
    for routes that are not SP-API operations), the shared state and the APIs' backends."""

    request: Request
    seller: str
    grant: frozenset[str]
    state: EmulatorState
    backends: Backends


Handler = Callable[[Call], Reply | tuple[int, dict | bytes | None]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: Handler
    operation: str | None = None  # an SP-API operation: faults, authorisation, quota and rate header around it
    # The statuses whose responses the model declares `x-amzn-RateLimit-Limit` on (the Orders models: 200, 400
    # and 404 only).
    rate_header_on: tuple[int, ...] = (200, 400, 404)
    allow_rdt: bool = False  # an RDT may authorise it
    grantless: bool = False  # an application's token authorises it, not a seller's


def operation(method: str, pattern: str, name: str, handler: Handler, **options) -> Route:
    return Route(method, re.compile(pattern), handler, name, **options)


def plain(method: str, pattern: str, handler: Handler) -> Route:
    """A route that is not an SP-API operation (LWA, document URLs, the emulator's controls)."""
    return Route(method, re.compile(pattern), handler)


def not_found() -> Reply:
    return Reply(404, ApiError(404, "NotFound", "Resource not found.").body())


def as_reply(result: Reply | tuple[int, dict | bytes | None]) -> Reply:
    return result if isinstance(result, Reply) else Reply(*result)


def dispatch(routes: list[Route], request: Request, state: EmulatorState, backends: Backends) -> Reply:
    """The first route whose method and pattern fit the request, run; Amazon's 404 when none does."""
    for route in routes:
        if route.method != request.method or not (m := route.pattern.fullmatch(request.path)):
            continue
        bound = Request(request.method, request.path, request.params, request.headers, request.body, m.groups(),
                        request.base_url)
        try:
            if route.operation is None:
                return as_reply(route.handler(Call(bound, "", frozenset(), state, backends)))
            return run_operation(route, bound, state, backends)
        except ApiError as e:
            return Reply(e.status, e.body())
    return not_found()


def run_operation(route: Route, request: Request, state: EmulatorState, backends: Backends) -> Reply:
    """One SP-API operation: faults, authorisation (an LWA token, or an RDT where the route allows), quota, then
    the handler."""
    name = route.operation
    state.stats[f"{name}.calls"] += 1
    delay = state.faults.delay()
    if delay:
        time.sleep(delay)
    fault = state.faults.draw()
    if fault == "drop":
        state.stats[f"{name}.dropped"] += 1
        return DROP
    rate_header = {"x-amzn-RateLimit-Limit": f"{state.rate(name):g}"}
    try:
        seller, grant = state.authorise(request.headers.get("x-amz-access-token"), request.method, request.path,
                                        allow_rdt=route.allow_rdt)
        if (seller == GRANTLESS) != route.grantless:
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "This operation needs a grantless token." if route.grantless
                           else "This operation needs a selling partner's authorization.")
        raise_fault(fault)
        state.take_quota(seller, name)
        if name == "searchOrders" and (injected := state.next_injected_page()) is not None:
            state.stats[f"{name}.200"] += 1
            return Reply(200, injected, rate_header)
        reply = as_reply(route.handler(Call(request, seller, grant, state, backends)))
    except ApiError as e:
        state.stats[f"{name}.{e.status}"] += 1
        return Reply(e.status, e.body(), rate_header if e.status in route.rate_header_on else {})
    state.stats[f"{name}.{reply.status}"] += 1
    if fault == "lost_response":
        state.stats[f"{name}.lost_response"] += 1
        return DROP
    raw = b"" if reply.body is None else json.dumps(reply.body).encode()
    if fault == "truncate":
        raw = raw[: len(raw) // 2]
    return Reply(reply.status, raw, {**rate_header, **reply.headers})


def raise_fault(fault: str | None) -> None:
    if fault == "throttle":
        raise ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
    if fault == "server_error":
        raise ApiError(500, "InternalFailure", "We encountered an internal error. Please try again.")
    if fault == "unavailable":
        raise ApiError(503, "ServiceUnavailable", "Service temporarily unavailable. Please try again.")
