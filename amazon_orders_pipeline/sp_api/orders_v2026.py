"""Orders API v2026-01-01: searchOrders, paginated to the end, and getOrder."""

from __future__ import annotations

from collections.abc import Iterator

from amazon_orders_pipeline.sp_api.http import SpApiClient, encode_params
from amazon_orders_pipeline.sp_api.pages import Page

SEARCH_ORDERS_PATH = "/orders/2026-01-01/orders"
API_VERSION = "2026-01-01"


class OrdersV2026:
    """Orders v2026-01-01 through an account's client: items inline, buyer and recipient through `includedData`."""

    def __init__(self, client: SpApiClient):
        self.client = client

    def search_orders(self, params: dict, *, next_token: str | None = None, first_page: int = 1) -> Iterator[Page]:
        """Every page of a searchOrders query, in order, starting after `next_token` when resuming."""
        return self.client.paginate("searchOrders", SEARCH_ORDERS_PATH, params, "paginationToken",
                                    lambda data: (data.get("pagination") or {}).get("nextToken"), next_token,
                                    first_page)

    def get_order(self, order_id: str, included_data: list[str]) -> Page:
        """One order (with its items) by id: getOrder, whose quota (0.5/s, burst 30) is searchOrders' 90x."""
        params = encode_params({"includedData": included_data})
        resp = self.client.call("getOrder", "GET", f"{SEARCH_ORDERS_PATH}/{order_id}", params)
        return Page(1, params, resp.request_id, resp.fetched_at, resp.body, resp.data, None, "getOrder")
