"""The seller's own shipments: Orders v0 confirmShipment (the backend, emulator/merchant.py, also takes the order
feeds' cancellations)."""

from __future__ import annotations

from amazon_orders_pipeline.emulator.errors import ApiError
from amazon_orders_pipeline.emulator.http import Call, operation
from amazon_orders_pipeline.emulator.query import ORDER_ID_RE


def confirm_shipment(call: Call) -> tuple[int, None]:
    (order_id,) = call.request.groups
    if not ORDER_ID_RE.match(order_id):
        raise ApiError(400, "Invalid Input", "Invalid Input", f"orderId {order_id!r} is not in 3-7-7 format")
    return call.backends.merchant.confirm_shipment(call.seller, order_id, call.request.body)


ROUTES = [
    operation("POST", r"/orders/v0/orders/([^/]+)/shipmentConfirmation", "confirmShipment", confirm_shipment,
              rate_header_on=(204, 400, 404, 429, 500, 503)),
]
