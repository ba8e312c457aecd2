"""Orders API v2026-01-01: searchOrders (change or creation windows, items inline, `includedData` sections) and
getOrder."""

from __future__ import annotations

from amazon_orders_pipeline.emulator.errors import ApiError, invalid
from amazon_orders_pipeline.emulator.http import Call, operation
from amazon_orders_pipeline.emulator.orders import filter_included, iso
from amazon_orders_pipeline.emulator.paging import cut_page, date_window, marketplace_ids, resumed
from amazon_orders_pipeline.emulator.query import ORDER_ID_RE, enum_list, known, page_size

SEARCH_PATH = "/orders/2026-01-01/orders"
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


def search_orders(call: Call) -> tuple[int, dict]:
    st, seller = call.state, call.seller
    params = resumed(known(call.request.params, SEARCH_PARAMS), "paginationToken")
    field, start, end, before_name = date_window(st, params, "createdAfter", "lastUpdatedAfter")
    marketplaces = st.regional_marketplaces(seller, marketplace_ids(params, "marketplaceIds"))
    statuses = enum_list(params, "fulfillmentStatuses", FULFILLMENT_STATUSES)
    fulfilled_by = enum_list(params, "fulfilledBy", FULFILLED_BY)
    included = set(enum_list(params, "includedData", INCLUDED_DATA))
    page, snapshot, end, next_token = cut_page(
        st, seller, params, "paginationToken", PAGINATION_FREE_PARAMS, field, start, end,
        page_size(params, "maxResultsPerPage"),
        lambda s, e, as_of: st.window_orders(seller, field, s, e, as_of, set(statuses), set(fulfilled_by),
                                             marketplaces))
    body: dict = {"orders": [filter_included(o.to_api(st.indexed_as_of(o, snapshot)), included) for o in page]}
    if next_token:
        body["pagination"] = {"nextToken": next_token}
    body[before_name] = iso(end)
    return 200, body


def get_order(call: Call) -> tuple[int, dict]:
    st, seller, (order_id,) = call.state, call.seller, call.request.groups
    included = enum_list(call.request.params, "includedData", INCLUDED_DATA)
    if not ORDER_ID_RE.match(order_id):
        raise invalid(f"orderId {order_id!r} is not in 3-7-7 format")
    history = st.find_order(seller, order_id)
    order = history.to_api(st.clock.now()) if history and st.in_region(seller, history) else None
    if order is None:
        raise ApiError(404, "NotFound", f"Order {order_id} was not found.")
    return 200, {"order": filter_included(order, set(included))}


ROUTES = [
    operation("GET", SEARCH_PATH, "searchOrders", search_orders),
    operation("GET", SEARCH_PATH + r"/(.+)", "getOrder", get_order),
]
