"""Orders API v0: getOrders, getOrderItems and getOrderAddress, PII through a restricted data token."""

from __future__ import annotations

from amazon_orders_pipeline.emulator.auth import RDT_GRANT
from amazon_orders_pipeline.emulator.errors import ApiError, invalid
from amazon_orders_pipeline.emulator.http import Call, operation
from amazon_orders_pipeline.emulator.orders import OrderHistory, iso
from amazon_orders_pipeline.emulator.paging import (
    cut_page,
    date_window,
    decode_token,
    encode_token,
    marketplace_ids,
    resumed,
)
from amazon_orders_pipeline.emulator.query import ORDER_ID_RE, enum_list, known, page_size, single
from amazon_orders_pipeline.emulator.state import EmulatorState
from amazon_orders_pipeline.emulator.v0_shapes import ADDRESS_STATUSES, shipping_address, v0_items, v0_order

V0_ORDERS_PATH = "/orders/v0/orders"
V0_PAGINATION_FREE_PARAMS = {"NextToken", "MaxResultsPerPage"}
# getOrders: exactly one of CreatedAfter / LastUpdatedAfter, the rest as the model lists them.
V0_ORDERS_PARAMS = {
    "CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore", "OrderStatuses", "MarketplaceIds",
    "FulfillmentChannels", "MaxResultsPerPage", "NextToken",
}
V0_ORDER_STATUSES = {
    "Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled", "Unfulfillable", "InvoiceUnconfirmed",
    "PendingAvailability",
}
V0_STATUS_FILTER = {"Pending": "PENDING", "Unshipped": "UNSHIPPED", "PartiallyShipped": "PARTIALLY_SHIPPED",
                    "Shipped": "SHIPPED", "Canceled": "CANCELLED", "Unfulfillable": "UNFULFILLABLE",
                    "PendingAvailability": "PENDING_AVAILABILITY", "InvoiceUnconfirmed": "SHIPPED"}
V0_CHANNEL_FILTER = {"AFN": "AMAZON", "MFN": "MERCHANT"}


def get_orders(call: Call) -> tuple[int, dict]:
    st, seller = call.state, call.seller
    params = resumed(known(call.request.params, V0_ORDERS_PARAMS), "NextToken")
    marketplaces = marketplace_ids(params, "MarketplaceIds")
    if not marketplaces:
        raise invalid("MarketplaceIds is required")
    marketplaces = st.regional_marketplaces(seller, marketplaces)
    field, start, end, before_name = date_window(st, params, "CreatedAfter", "LastUpdatedAfter", offsets=False)
    statuses = {V0_STATUS_FILTER[x] for x in enum_list(params, "OrderStatuses", V0_ORDER_STATUSES)}
    channels = {V0_CHANNEL_FILTER[x] for x in enum_list(params, "FulfillmentChannels", V0_CHANNEL_FILTER)}
    page, snapshot, end, next_token = cut_page(
        st, seller, params, "NextToken", V0_PAGINATION_FREE_PARAMS, field, start, end,
        page_size(params, "MaxResultsPerPage"),
        lambda s, e, as_of: st.window_orders(seller, field, s, e, as_of, statuses, channels, marketplaces))
    payload: dict = {"Orders": [v0_order(o, st.indexed_as_of(o, snapshot), call.grant) for o in page]}
    if next_token:
        payload["NextToken"] = next_token
    payload[before_name] = iso(end)
    return 200, {"payload": payload}


def _order(state: EmulatorState, seller: str, order_id: str) -> OrderHistory:
    if not ORDER_ID_RE.match(order_id):
        raise invalid(f"orderId {order_id!r} is not in 3-7-7 format")
    history = state.find_order(seller, order_id)
    if (history is None or not state.in_region(seller, history)
            or history.state_as_of(state.clock.now()) is None):
        raise ApiError(404, "NotFound", f"Order {order_id} was not found.")
    return history


def get_order_items(call: Call) -> tuple[int, dict]:
    (order_id,) = call.request.groups
    history = _order(call.state, call.seller, order_id)
    items = v0_items(history, call.state.clock.now(), call.grant) or []
    token = single(call.request.params, "NextToken")
    offset = 0
    if token is not None:
        data = decode_token(token, "NextToken")
        if data.get("order") != order_id:
            raise invalid("NextToken belongs to another order")
        offset = int(data["o"])
    size = call.state.v0_items_page_size
    payload: dict = {"AmazonOrderId": order_id, "OrderItems": items[offset: offset + size]}
    if offset + size < len(items):
        payload["NextToken"] = encode_token({"order": order_id, "o": offset + size})
    return 200, {"payload": payload}


def get_order_address(call: Call) -> tuple[int, dict]:
    (order_id,) = call.request.groups
    history = _order(call.state, call.seller, order_id)
    payload: dict = {"AmazonOrderId": order_id}
    state = history.state_as_of(call.state.clock.now())
    if state and state[1] in ADDRESS_STATUSES:
        # The operation is restricted as a whole: an RDT for its path gets the full address.
        payload["ShippingAddress"] = shipping_address(history, restricted=RDT_GRANT in call.grant)
    return 200, {"payload": payload}


ROUTES = [
    operation("GET", V0_ORDERS_PATH, "getOrders", get_orders, allow_rdt=True),
    operation("GET", V0_ORDERS_PATH + r"/([^/]+)/orderItems", "getOrderItems", get_order_items, allow_rdt=True),
    operation("GET", V0_ORDERS_PATH + r"/([^/]+)/address", "getOrderAddress", get_order_address, allow_rdt=True),
]
