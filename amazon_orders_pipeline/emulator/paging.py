"""Window queries of both Orders versions: the date window's rules, and pages cut from a snapshot by a token that
carries the query."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta

from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.errors import invalid
from amazon_orders_pipeline.emulator.orders import OrderHistory
from amazon_orders_pipeline.emulator.query import multi, parse_timestamp, single
from amazon_orders_pipeline.emulator.state import EmulatorState

PAGINATION_TOKEN_TTL = timedelta(hours=24)
MIN_LAG = timedelta(minutes=2)


def encode_token(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, name: str = "paginationToken") -> dict:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict):
            raise ValueError
        return data
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"{name} is malformed") from None


def resumed(params: dict[str, list[str]], token_name: str) -> dict[str, list[str]]:
    """A page request as Amazon's samples and common clients send it: the token, perhaps with a few of the first
    request's parameters (v0 clients repeat MarketplaceIds). The token carries the query; parameters the request
    leaves out come from it, and ones it repeats must be the same (checked when the page is cut)."""
    token = single(params, token_name)
    if token is None:
        return params
    query = decode_token(token, token_name).get("q")
    if not isinstance(query, dict):
        raise invalid(f"{token_name} is malformed")
    carried = {k: [",".join(v)] for k, v in query.items() if k not in params and isinstance(v, list)}
    return {**carried, **params}


def marketplace_ids(params: dict[str, list[str]], name: str) -> list[str]:
    marketplaces = multi(params, name)
    if len(marketplaces) > 50:
        raise invalid(f"{name} accepts at most 50 values")
    if bad := [m for m in marketplaces if m not in MARKETPLACES]:
        raise invalid(f"unknown {name}: {bad}")
    return marketplaces


def date_window(state: EmulatorState, params: dict[str, list[str]], created_after_name: str,
                updated_after_name: str, offsets: bool = True) -> tuple[str, datetime, datetime, str]:
    """The rules both Orders versions share: exactly one of the two *After parameters, no *Before of the other
    kind, and a *Before (defaulted to now - 2 min) between *After and two minutes before now.
    Returns (field, start, end, the *Before parameter's name)."""
    created_before_name = created_after_name.replace("After", "Before")
    updated_before_name = updated_after_name.replace("After", "Before")
    created_after, updated_after = single(params, created_after_name), single(params, updated_after_name)
    if (created_after is None) == (updated_after is None):
        raise invalid(f"Exactly one of {created_after_name} and {updated_after_name} must be provided")
    if created_after is not None and single(params, updated_before_name) is not None:
        raise invalid(f"{updated_before_name} cannot be set when {created_after_name} is set")
    if updated_after is not None and single(params, created_before_name) is not None:
        raise invalid(f"{created_before_name} cannot be set when {updated_after_name} is set")
    field = "created" if created_after is not None else "lastUpdated"
    after_name, before_name = ((created_after_name, created_before_name) if field == "created"
                               else (updated_after_name, updated_before_name))
    start = parse_timestamp(after_name, created_after or updated_after, offsets)
    before_raw = single(params, before_name)
    latest = state.clock.now() - MIN_LAG
    end = (parse_timestamp(before_name, before_raw, offsets) if before_raw is not None
           else latest.replace(microsecond=0))
    if end < start:
        raise invalid(f"{before_name} must be equal to or after {after_name}")
    if end > latest:
        raise invalid(f"{before_name} must be at least two minutes before the time of the request")
    return field, start, end, before_name


def cut_page(state: EmulatorState, seller: str, params: dict[str, list[str]], token_name: str, free: set[str],
             field: str, start: datetime, end: datetime, size: int,
             compute) -> tuple[list[OrderHistory], datetime, datetime, str | None]:
    """One page of a window query, and the token for the next. A token is bound to the request's other
    parameters (all but `free`), lives 24 hours, and pages through the result as it was at the first page, so
    orders changing meanwhile neither shift nor repeat; they show up in the window of their new update time.
    Returns (page, snapshot time, effective end, next token)."""
    now = state.clock.now()
    bound = {k: sorted(multi(params, k)) for k in sorted(set(params) - free)}
    bound_hash = hashlib.sha256((seller + json.dumps(bound, sort_keys=True)).encode()).hexdigest()[:24]
    offset, snapshot = 0, now
    token = single(params, token_name)
    if token is not None:
        data = decode_token(token, token_name)
        if data.get("h") != bound_hash:
            raise invalid(f"{token_name} does not match the other parameters of this request")
        issued = datetime.fromisoformat(data["i"])
        if now - issued > PAGINATION_TOKEN_TTL:
            raise invalid(f"{token_name} has expired")
        offset, snapshot = int(data["o"]), datetime.fromisoformat(data["s"])
        end = datetime.fromisoformat(data["e"])  # a defaulted *Before stays what the first page used
    key = (seller, field, bound_hash, snapshot.isoformat(), end.isoformat())
    hits = state.cached_window(key, lambda: compute(start, end, snapshot))
    page = hits[offset: offset + size]
    next_token = None
    if offset + size < len(hits):
        next_token = encode_token({"h": bound_hash, "o": offset + size, "s": snapshot.isoformat(),
                                   "e": end.isoformat(), "i": now.isoformat(), "q": bound})
    return page, snapshot, end, next_token
