"""A Multi-Channel Fulfillment order as the emulator keeps it: its lifecycle over emulated time, its shape in
Fulfillment Outbound 2020-07-01, and the checks a create or preview request must pass."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.errors import invalid
from amazon_orders_pipeline.emulator.orders import iso

SPEEDS = ("Standard", "Expedited", "Priority", "ScheduledDelivery")
ACTIONS = ("Ship", "Hold")
POLICIES = ("FillOrKill", "FillAll", "FillAllAvailable")
CANCELLABLE = ("New", "Received", "Planning")
# When each status begins, in Amazon's seconds after the order was received (divided by the emulator's speed).
LIFECYCLE = (("Received", 0), ("Planning", 1800), ("Processing", 7200), ("Complete", 14400))
DEFAULT_UNITS = 1000
MAX_LINES, MAX_UNITS = 100, 250
PAGE_SIZE = 50
CARRIERS = {"US": "AMZL_US", "GB": "AMZL_UK", "DE": "DHL", "JP": "YAMATO"}


@dataclass
class FulfillmentOrder:
    seller: str
    request: dict
    received: datetime
    invalid: bool = False  # not enough sellable units when it came
    stranded: bool = False  # a SKU the fulfilment centre will not find
    cancelled_at: datetime | None = None
    package_base: int = 0
    upper: bool = False
    amazon_order_id: str | None = None  # the order it is in the Orders API (NON_AMAZON channel)

    @property
    def order_id(self) -> str:
        return self.request["sellerFulfillmentOrderId"]

    def status(self, now: datetime, speed: float) -> tuple[str, datetime]:
        """(status, since when) as of `now`."""
        if self.invalid:
            return "Invalid", self.received
        current = ("Received", self.received)
        for name, seconds in LIFECYCLE:
            at = self.received + timedelta(seconds=seconds / speed)
            if self.cancelled_at is not None and self.cancelled_at <= at:
                return "Cancelled", self.cancelled_at
            if at <= now:
                current = (name, at)
            if name == "Planning" and at <= now and self.stranded:
                return "Unfulfillable", at + timedelta(seconds=60 / speed)
        return current


def order_json(order: FulfillmentOrder, status: tuple[str, datetime]) -> dict:
    """The order as getFulfillmentOrder and listAllFulfillmentOrders show it."""
    r = order.request
    out = {"sellerFulfillmentOrderId": r["sellerFulfillmentOrderId"],
           "marketplaceId": r.get("marketplaceId") or request_marketplace(None, r["destinationAddress"]),
           "displayableOrderId": r["displayableOrderId"].strip(), "displayableOrderDate": r["displayableOrderDate"],
           "displayableOrderComment": r["displayableOrderComment"],
           "shippingSpeedCategory": r["shippingSpeedCategory"], "destinationAddress": r["destinationAddress"],
           "fulfillmentAction": r.get("fulfillmentAction", "Ship"),
           "fulfillmentPolicy": r.get("fulfillmentPolicy", "FillOrKill"),
           "receivedDate": iso(order.received),
           "fulfillmentOrderStatus": status[0].upper() if order.upper else status[0],
           "statusUpdatedDate": iso(status[1])}
    if r.get("notificationEmails"):
        out["notificationEmails"] = r["notificationEmails"]
    return out

def order_result(order: FulfillmentOrder, status: tuple[str, datetime]) -> dict:
    """getFulfillmentOrder's payload: the order, its items, and its shipment once it is processing."""
    name = status[0]
    done = name == "Complete"
    items = [{"sellerSku": i["sellerSku"], "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
              "quantity": i["quantity"],
              "cancelledQuantity": i["quantity"] if name == "Cancelled" else 0,
              "unfulfillableQuantity": i["quantity"] if name in ("Unfulfillable", "Invalid") else 0,
              **({"perUnitDeclaredValue": i["perUnitDeclaredValue"]} if i.get("perUnitDeclaredValue") else {})}
             for i in order.request["items"]]
    result: dict = {"fulfillmentOrder": order_json(order, status), "fulfillmentOrderItems": items,
                    "returnItems": [], "returnAuthorizations": []}
    if name in ("Processing", "Complete"):
        country = order.request["destinationAddress"]["countryCode"]
        package = {"packageNumber": order.package_base + 1, "carrierCode": CARRIERS.get(country, "UPS")}
        if done:
            package["trackingNumber"] = f"TBA{order.package_base:09d}{country}"
            package["estimatedArrivalDate"] = iso(status[1] + timedelta(days=2))
        shipment = {
            "amazonShipmentId": f"D{order.package_base:08d}", "fulfillmentCenterId": "SEA8",
            "fulfillmentShipmentStatus": "SHIPPED" if done else "PENDING",
            "fulfillmentShipmentItem": [
                {"sellerSku": i["sellerSku"], "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                 "quantity": i["quantity"], "packageNumber": package["packageNumber"]}
                for i in order.request["items"]],
            "fulfillmentShipmentPackage": [package]}
        if done:
            shipment["shippingDate"] = iso(status[1])
        result["fulfillmentShipments"] = [shipment]
    return result


def request_time(value, name: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{name} must be an ISO 8601 date-time") from None


def request_address(address, name: str) -> dict:
    if not isinstance(address, dict):
        raise invalid(f"{name} must be an object")
    missing = [k for k in ("name", "addressLine1", "postalCode", "countryCode") if not address.get(k)]
    if address.get("countryCode") != "JP" and not address.get("city"):
        missing.append("city")
    if missing:
        raise invalid(f"The following required parameters are missing: {missing}")
    if not re.fullmatch(r"[A-Z]{2}", str(address["countryCode"])):
        raise invalid("countryCode must be an ISO 3166-1 alpha-2 code")
    return address


def request_marketplace(marketplace_id, address: dict) -> str:
    if marketplace_id is not None:
        if marketplace_id not in MARKETPLACES:
            raise invalid(f"marketplaceId {marketplace_id!r} is not valid")
        return marketplace_id
    by_country = {country: m for m, (_, _, _, country, *_rest) in MARKETPLACES.items()}
    return by_country.get(address["countryCode"], "ATVPDKIKX0DER")


def request_items(items) -> list[dict]:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_LINES:
        raise invalid(f"items must list 1 to {MAX_LINES} line items")
    seen = set()
    for item in items:
        if not isinstance(item, dict):
            raise invalid("each item must be an object")
        sku, item_id, quantity = item.get("sellerSku"), item.get("sellerFulfillmentOrderItemId"), item.get("quantity")
        if not isinstance(sku, str) or not sku or len(sku) > 50:
            raise invalid("sellerSku must be 1 to 50 characters")
        if not isinstance(item_id, str) or not item_id or len(item_id) > 50 or item_id in seen:
            raise invalid("sellerFulfillmentOrderItemId must be 1 to 50 characters and unique in the order")
        seen.add(item_id)
        if type(quantity) is not int or quantity < 1:
            raise invalid("quantity must be a whole number of at least 1")
        for money in ("perUnitDeclaredValue", "perUnitPrice", "perUnitTax"):
            value = item.get(money)
            if value is not None and not (isinstance(value, dict) and isinstance(value.get("value"), str)
                                          and isinstance(value.get("currencyCode"), str)):
                raise invalid("missing value for decimal type")
    if sum(i["quantity"] for i in items) > MAX_UNITS:
        raise invalid(f"An order may hold at most {MAX_UNITS} units")
    return items
