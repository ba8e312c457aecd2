"""Orders API v0: getOrders and getOrderItems (PII through a restricted data token), and confirmShipment."""

from __future__ import annotations

from collections.abc import Iterator

from amazon_orders_pipeline.sp_api.http import AccessToken, Response, SpApiClient
from amazon_orders_pipeline.sp_api.pages import Page

V0_ORDERS_PATH = "/orders/v0/orders"
V0_API_VERSION = "v0"


def _next_token(data: dict) -> str | None:
    return (data.get("payload") or {}).get("NextToken")


class OrdersV0:
    """Orders v0 through an account's client; `access` an RDT where the call should return PII."""

    def __init__(self, client: SpApiClient):
        self.client = client

    def get_orders(self, params: dict, *, next_token: str | None = None, first_page: int = 1,
                   access: AccessToken | None = None) -> Iterator[Page]:
        """Every page of a getOrders query, in order."""
        return self.client.paginate("getOrders", V0_ORDERS_PATH, params, "NextToken", _next_token, next_token,
                                    first_page, access)

    def get_order_items(self, order_id: str, *, access: AccessToken | None = None) -> Iterator[Page]:
        """Every page of one order's getOrderItems."""
        return self.client.paginate("getOrderItems", f"{V0_ORDERS_PATH}/{order_id}/orderItems", {}, "NextToken",
                                    _next_token, None, 1, access)

    def confirm_shipment(self, order_id: str, body: dict) -> Response:
        """confirmShipment (204). Sending the same packageReferenceId again edits that package, so the call is
        retried as any other: a retry cannot add a second package."""
        return self.client.call("confirmShipment", "POST", f"{V0_ORDERS_PATH}/{order_id}/shipmentConfirmation",
                                json_body=body)
