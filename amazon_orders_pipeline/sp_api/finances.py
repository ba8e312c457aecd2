"""Finances API v2024-06-19 `listTransactions`: a posted window's (or an order's) transactions, page by page, paced
and retried as every operation is. A nextToken lapses about five minutes after the call that issued it (throttling
can cause that, amzn/selling-partner-api-models#4867): the listing then starts again from its first page, and the
caller gets the pages of that whole pass (`restarted` tells it to drop what it had). No Dagster."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.pages import Page

TRANSACTIONS_PATH = "/finances/2024-06-19/transactions"
OPERATION = "listTransactions"
# A listing that keeps losing its token is given up after this many passes.
MAX_PASSES = 4


class TokenExpired(Exception):
    """The listing's nextToken lapsed: its pages so far are to be dropped and the listing read again."""


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_params(start: datetime, end: datetime, marketplace_id: str) -> dict[str, str]:
    """A posted window [start, end) of one marketplace (the operation takes one)."""
    return {"postedAfter": iso(start), "postedBefore": iso(end), "marketplaceId": marketplace_id}


def order_params(order_id: str) -> dict[str, str]:
    """Every transaction of one order, whatever its dates."""
    return {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order_id}


def transactions_of(page: Page) -> list[dict] | None:
    """A page's transactions, or None when the page has no such list."""
    payload = page.data.get("payload")
    found = payload.get("transactions") if isinstance(payload, dict) else None
    return found if isinstance(found, list) or found is None and isinstance(payload, dict) else None


def _next_token(data: dict) -> str | None:
    payload = data.get("payload")
    return payload.get("nextToken") if isinstance(payload, dict) else None


def pages(client: SpApiClient, params: dict[str, str], first_page: int = 1) -> Iterator[Page]:
    """One pass over a listing, its pages numbered from `first_page`; raises TokenExpired when Amazon says its
    token has lapsed."""
    try:
        yield from client.paginate(OPERATION, TRANSACTIONS_PATH, params, "nextToken", _next_token, None, first_page)
    except SpApiError as e:
        if e.status == 400 and "expired" in e.amazon_message.lower():
            raise TokenExpired(str(e)) from None
        raise


def is_expired(error: BaseException) -> bool:
    return isinstance(error, TokenExpired)
