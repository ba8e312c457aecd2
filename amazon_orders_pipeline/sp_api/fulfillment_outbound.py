"""The Fulfillment Outbound API behind an interface, so that an adapter for Amazon's new 2026-07-04 version can
follow the 2020-07-01 one used now. Statuses are read without regard to case (the model's enum says `Complete`, its
own examples `COMPLETE`) into the enum's spelling; an unknown one is kept as Amazon sent it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError

PATH = "/fba/outbound/2020-07-01/fulfillmentOrders"
STATUSES = ("New", "Received", "Planning", "Processing", "Cancelled", "Complete", "CompletePartialled",
            "Unfulfillable", "Invalid")
TERMINAL = ("Cancelled", "Complete", "CompletePartialled", "Unfulfillable", "Invalid")
CANCELLABLE = ("New", "Received", "Planning")


def canonical_status(value: str | None) -> str | None:
    if value is None:
        return None
    return next((s for s in STATUSES if s.lower() == value.strip().lower()), value)


@dataclass(frozen=True)
class Package:
    package_number: int
    carrier_code: str
    tracking_number: str | None
    shipment_status: str
    shipping_date: str | None
    estimated_arrival: str | None


@dataclass(frozen=True)
class FulfillmentState:
    status: str
    status_updated: str | None
    packages: list[Package]


class FulfillmentOutbound(Protocol):
    def preview(self, request: dict) -> list[str]:
        """Why the order cannot be fulfilled (empty: it can), from getFulfillmentPreview."""

    def create(self, request: dict) -> None:
        """createFulfillmentOrder; UnclearOutcome when Amazon may or may not have taken it."""

    def get(self, seller_fulfillment_order_id: str) -> FulfillmentState | None:
        """The order at Amazon, or None when Amazon has none by that id."""

    def cancel(self, seller_fulfillment_order_id: str) -> None: ...


class FulfillmentOutbound20200701:
    """Fulfillment Outbound 2020-07-01 through an account's SP-API client."""

    def __init__(self, client: SpApiClient):
        self.client = client

    def preview(self, request: dict) -> list[str]:
        body = {"marketplaceId": request.get("marketplaceId"), "address": request["destinationAddress"],
                "items": [{k: i[k] for k in ("sellerSku", "sellerFulfillmentOrderItemId", "quantity")}
                          for i in request["items"]],
                "shippingSpeedCategories": [request["shippingSpeedCategory"]]}
        payload = self.client.call("getFulfillmentPreview", "POST", f"{PATH}/preview", json_body=body).data
        reasons = []
        for preview in (payload.get("payload") or {}).get("fulfillmentPreviews") or []:
            if preview.get("isFulfillable"):
                return []
            reasons += [f"{i.get('sellerSku')}: {', '.join(i.get('itemUnfulfillableReasons') or ['unfulfillable'])}"
                        for i in preview.get("unfulfillablePreviewItems") or []]
            reasons += list(preview.get("orderUnfulfillableReasons") or [])
        return reasons or ["Amazon's preview says the order cannot be fulfilled"]

    def create(self, request: dict) -> None:
        self.client.call("createFulfillmentOrder", "POST", PATH, json_body=request, idempotent=False)

    def get(self, seller_fulfillment_order_id: str) -> FulfillmentState | None:
        try:
            data = self.client.call("getFulfillmentOrder", "GET",
                                    f"{PATH}/{quote(seller_fulfillment_order_id, safe='')}").data
        except SpApiError as e:
            if e.status == 404:
                return None
            raise
        result = data.get("payload") or {}
        order = result.get("fulfillmentOrder") or {}
        packages = []
        for shipment in result.get("fulfillmentShipments") or []:
            for package in shipment.get("fulfillmentShipmentPackage") or []:
                packages.append(Package(int(package["packageNumber"]), str(package.get("carrierCode") or ""),
                                        package.get("trackingNumber"), str(shipment.get("fulfillmentShipmentStatus")),
                                        shipment.get("shippingDate"), package.get("estimatedArrivalDate")))
        return FulfillmentState(canonical_status(order.get("fulfillmentOrderStatus")) or "New",
                                order.get("statusUpdatedDate"), packages)

    def cancel(self, seller_fulfillment_order_id: str) -> None:
        self.client.call("cancelFulfillmentOrder", "PUT",
                         f"{PATH}/{quote(seller_fulfillment_order_id, safe='')}/cancel")
