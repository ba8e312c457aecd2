"""Finances API v2024-06-19: listTransactions (posted windows, an order's or a settlement group's transactions)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from amazon_orders_pipeline.emulator.errors import ApiError, invalid
from amazon_orders_pipeline.emulator.finances import to_api
from amazon_orders_pipeline.emulator.http import Call, operation
from amazon_orders_pipeline.emulator.paging import MIN_LAG, decode_token, encode_token
from amazon_orders_pipeline.emulator.query import known, multi, parse_timestamp, single

TRANSACTIONS_PATH = "/finances/2024-06-19/transactions"
PARAMS = {"postedAfter", "postedBefore", "marketplaceId", "transactionStatus", "relatedIdentifierName",
          "relatedIdentifierValue", "nextToken"}
STATUSES = {"DEFERRED", "RELEASED", "DEFERRED_RELEASED"}
# Only these related identifiers filter; the others appear in responses but cannot filter.
FILTERS = {"ORDER_ID", "FINANCIAL_EVENT_GROUP_ID"}
MAX_WINDOW = timedelta(days=180)  # wider windows answer empty, not 400
# A nextToken lapses this long after the call that issued it (users report about five minutes: models#4867).
TOKEN_TTL = timedelta(minutes=5)


def _window(call: Call, params: dict[str, list[str]]) -> tuple[datetime | None, datetime | None]:
    after, before = single(params, "postedAfter"), single(params, "postedBefore")
    if after is None:
        if single(params, "relatedIdentifierName") is not None:
            return None, None
        raise ApiError(400, "InvalidInput", "Start date cannot be null", "Start date cannot be null")
    start = parse_timestamp("postedAfter", after)
    latest = call.state.clock.now() - MIN_LAG
    end = parse_timestamp("postedBefore", before) if before is not None else latest.replace(microsecond=0)
    if start > latest:
        raise invalid("postedAfter must be at least two minutes before the time of the request")
    if end > latest:
        raise invalid("postedBefore must be at least two minutes before the time of the request")
    if end <= start:
        raise invalid("postedBefore must be after postedAfter")
    return start, end


def list_transactions(call: Call) -> tuple[int, dict]:
    st, seller, ledger = call.state, call.seller, call.backends.finances
    params = known(call.request.params, PARAMS)
    status = single(params, "transactionStatus")
    if status is not None and status not in STATUSES:
        raise invalid(f"invalid transactionStatus: {status!r}")
    name, value = single(params, "relatedIdentifierName"), single(params, "relatedIdentifierValue")
    if name is not None and name not in FILTERS:
        raise invalid(f"relatedIdentifierName {name!r} cannot filter: use ORDER_ID or FINANCIAL_EVENT_GROUP_ID")
    if (name is None) != (value is None):
        raise invalid("relatedIdentifierName and relatedIdentifierValue go together")
    start, end = _window(call, params)
    marketplaces = st.regional_marketplaces(seller, multi(params, "marketplaceId"))
    now = st.clock.now()
    bound = {k: v for k, v in sorted(params.items()) if k != "nextToken"}
    bound_hash = hashlib.sha256((seller + json.dumps(bound)).encode()).hexdigest()[:24]
    offset, snapshot = 0, now
    if (token := single(params, "nextToken")) is not None:
        data = decode_token(token, "nextToken")
        if data.get("h") != bound_hash:
            raise invalid("nextToken does not match the other parameters of this request")
        if now - datetime.fromisoformat(data["i"]) > TOKEN_TTL or ledger.take_expiry():
            raise ApiError(400, "InvalidInput", "Next token has expired.", "Next token has expired.")
        offset, snapshot = int(data["o"]), datetime.fromisoformat(data["s"])

    def compute():
        if start is not None and end - start > MAX_WINDOW:
            return []
        if name == "ORDER_ID":
            found = ledger.of_order(seller, value)
        elif name == "FINANCIAL_EVENT_GROUP_ID":
            found = ledger.of_group(seller, value, snapshot)
        else:
            found = ledger.posted_in(seller, start, end)
        return [p for p in found if p.listable_at <= snapshot and p.marketplace_id in marketplaces
                and (start is None or start <= p.posted_at < end)
                and (status is None or p.status_as_of(snapshot) == status)]

    hits = st.cached_window(("transactions", seller, bound_hash, snapshot.isoformat()), compute)
    size = ledger.page_size
    # Amazon's pages can be empty (the model says so): a window's first page is, now and then.
    empty_first = offset == 0 and hits and int(bound_hash, 16) % 7 == 0 and token is None
    page = [] if empty_first else hits[offset: offset + size]
    following = offset if empty_first else offset + size
    body: dict = {"transactions": [to_api(p, seller, snapshot) for p in page]}
    if following < len(hits):
        body["nextToken"] = encode_token({"h": bound_hash, "o": following, "s": snapshot.isoformat(),
                                          "i": now.isoformat()})
    return 200, {"payload": body}


ROUTES = [operation("GET", TRANSACTIONS_PATH, "listTransactions", list_transactions)]
