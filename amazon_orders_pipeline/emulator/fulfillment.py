"""Fulfillment Outbound API 2020-07-01 (Multi-Channel Fulfillment): a seller's own orders shipped from Amazon's
fulfilment centres. The emulator takes getFulfillmentPreview, createFulfillmentOrder, getFulfillmentOrder,
listAllFulfillmentOrders and cancelFulfillmentOrder, validated as the model describes. Orders move Received ->
Planning -> Processing -> Complete over emulated time, with shipments, packages and tracking numbers.

Amazon does not document what a second createFulfillmentOrder with a known sellerFulfillmentOrderId returns; the
emulator refuses it with a 400 and counts every accepted create per id, so tests can prove exactly-once. An
unknown SKU is the reported 400 ("the SellerSKU for Item Id: ... is invalid."). An order that asks for more units
than are sellable is accepted and then `Invalid` ("not enough sellable inventory"). A SKU marked stranded is
`Unfulfillable` once planned: the fulfilment centre found none to pick. Statuses are served as the model's enum
spells them, except for one order in two, which gets them in capitals as the model's own examples do; clients
must read them without regard to case. Each accepted order also becomes an order of the seller in the Orders API:
Amazon-fulfilled, of the NON_AMAZON sales channel, following the fulfillment order's progress."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from amazon_orders_pipeline.emulator.errors import ApiError, invalid, json_object
from amazon_orders_pipeline.emulator.merchant import with_change
from amazon_orders_pipeline.emulator.query import single as _single
from amazon_orders_pipeline.emulator.seller import CATALOGUE, MARKETPLACES, Line, OrderHistory, iso, seller_tag

FULFILLMENT_PATH = "/fba/outbound/2020-07-01/fulfillmentOrders"
PREVIEW_PATH = FULFILLMENT_PATH + "/preview"
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


@dataclass
class FulfillmentStore:
    orders: dict[tuple[str, str], FulfillmentOrder] = field(default_factory=dict)
    creates: Counter = field(default_factory=Counter)


class Fulfillment:
    """Every seller's fulfillment orders, and a sellable inventory per SKU (the catalogue's, DEFAULT_UNITS each)."""

    def __init__(self, state):
        self.state = state
        self.store = FulfillmentStore()
        self.inventory: dict[str, int] = {sku: DEFAULT_UNITS for sku, *_ in CATALOGUE}
        self.stranded: set[str] = set()
        self._lock = threading.Lock()
        self._packages = 0

    # --- operations -------------------------------------------------------------------------------
    def preview(self, seller: str, raw: bytes) -> tuple[int, dict]:
        body = json_object(raw, "a GetFulfillmentPreviewRequest")
        address = _address(body.get("address"), "address")
        items = _items(body.get("items"))
        marketplace = _marketplace(body.get("marketplaceId"), address)
        speeds = body.get("shippingSpeedCategories") or ["Standard", "Expedited", "Priority"]
        if not isinstance(speeds, list) or any(s not in SPEEDS for s in speeds):
            raise invalid(f"shippingSpeedCategories must be among {list(SPEEDS)}")
        now = self.state.clock.now()
        unfulfillable = []
        for item in items:
            reason = self._item_problem(item["sellerSku"], item["quantity"])
            if reason:
                unfulfillable.append({"sellerSku": item["sellerSku"], "quantity": item["quantity"],
                                      "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
                                      "itemUnfulfillableReasons": [reason]})
        units = sum(i["quantity"] for i in items)
        currency = MARKETPLACES[marketplace][1]
        previews = []
        for n, speed in enumerate(speeds):
            preview = {"shippingSpeedCategory": speed, "isFulfillable": not unfulfillable, "isCODCapable": False,
                       "marketplaceId": marketplace,
                       "estimatedShippingWeight": {"unit": "POUNDS", "value": f"{0.6 * units:.2f}"},
                       "estimatedFees": [{"name": "FBAPerUnitFulfillmentFee",
                                          "amount": {"currencyCode": currency, "value": f"{3.22 * units:.2f}"}},
                                         {"name": "FBAPerOrderFulfillmentFee",
                                          "amount": {"currencyCode": currency, "value": f"{1.5 + n:.2f}"}}]}
            if unfulfillable:
                preview["unfulfillablePreviewItems"] = unfulfillable
            else:
                preview["fulfillmentPreviewShipments"] = [{
                    "earliestShipDate": iso(now + timedelta(hours=4)), "latestShipDate": iso(now + timedelta(days=1)),
                    "earliestArrivalDate": iso(now + timedelta(days=3 - n)),
                    "latestArrivalDate": iso(now + timedelta(days=5 - n)),
                    "fulfillmentPreviewItems": [
                        {"sellerSku": i["sellerSku"], "quantity": i["quantity"],
                         "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                         "shippingWeightCalculationMethod": "Package"} for i in items]}]
            previews.append(preview)
        return 200, {"payload": {"fulfillmentPreviews": previews}}

    def create(self, seller: str, raw: bytes) -> tuple[int, dict]:
        body = json_object(raw, "a CreateFulfillmentOrderRequest")
        missing = [k for k in ("sellerFulfillmentOrderId", "displayableOrderId", "displayableOrderDate",
                               "displayableOrderComment", "shippingSpeedCategory", "destinationAddress", "items")
                   if body.get(k) in (None, "", [])]
        if missing:
            raise invalid(f"The following required parameters are missing: {missing}")
        order_id = body["sellerFulfillmentOrderId"]
        if not isinstance(order_id, str) or len(order_id) > 40:
            raise invalid("sellerFulfillmentOrderId must be a string of at most 40 characters")
        display = body["displayableOrderId"]
        if not isinstance(display, str) or len(display.strip()) > 40 or "  " in display:
            raise invalid("displayableOrderId must be 1 to 40 characters, without two spaces in a row")
        _date_time(body["displayableOrderDate"], "displayableOrderDate")
        if not isinstance(body["displayableOrderComment"], str) or len(body["displayableOrderComment"]) > 750:
            raise invalid("displayableOrderComment must be at most 750 characters")
        if body["shippingSpeedCategory"] not in SPEEDS:
            raise invalid(f"Value {body['shippingSpeedCategory']} for parameter ShippingSpeedCategory is invalid.")
        if body.get("fulfillmentAction", "Ship") not in ACTIONS:
            raise invalid(f"fulfillmentAction must be one of {list(ACTIONS)}")
        if body.get("fulfillmentPolicy", "FillOrKill") not in POLICIES:
            raise invalid(f"fulfillmentPolicy must be one of {list(POLICIES)}")
        address = _address(body["destinationAddress"], "destinationAddress")
        _marketplace(body.get("marketplaceId"), address)
        items = _items(body["items"])
        for n, item in enumerate(items):
            if item["sellerSku"] not in self.inventory:
                raise invalid(f"the SellerSKU for Item Id: {item['sellerFulfillmentOrderItemId']}-{n} is invalid.")
        now = self.state.clock.now()
        with self._lock:
            if (seller, order_id) in self.store.orders:
                raise invalid(f"A fulfillment order with sellerFulfillmentOrderId {order_id} already exists.")
            short = any(self.inventory[i["sellerSku"]] < i["quantity"] for i in items)
            if not short:
                for item in items:
                    self.inventory[item["sellerSku"]] -= item["quantity"]
            self._packages += 10
            digest = hashlib.sha256(order_id.encode()).digest()[0]
            self.store.orders[(seller, order_id)] = FulfillmentOrder(
                seller, body, now, invalid=short, stranded=any(i["sellerSku"] in self.stranded for i in items),
                package_base=self._packages, upper=bool(digest % 2))
            self.store.creates[order_id] += 1
            order = self.store.orders[(seller, order_id)]
        if not order.invalid:
            order.amazon_order_id = self._publish(order).order_id
        return 200, {}

    def get(self, seller: str, order_id: str) -> tuple[int, dict]:
        order = self._order(seller, order_id)
        return 200, {"payload": self._result(order, self.state.clock.now())}

    def list(self, seller: str, params: dict[str, list[str]]) -> tuple[int, dict]:
        token = _single(params, "nextToken")
        if token is not None:
            try:
                data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                since, offset = datetime.fromisoformat(data["s"]), int(data["o"])
            except (ValueError, KeyError):
                raise invalid("nextToken is malformed") from None
        else:
            raw = _single(params, "queryStartDate")
            since = _date_time(raw, "queryStartDate") if raw else self.state.clock.now() - timedelta(days=1)
            offset = 0
        now = self.state.clock.now()
        with self._lock:
            mine = [o for (s, _), o in self.store.orders.items() if s == seller]
        touched = sorted(((o, self._status(o, now)) for o in mine), key=lambda x: (x[1][1], x[0].order_id))
        touched = [(o, st) for o, st in touched if st[1] >= since]
        page = touched[offset: offset + PAGE_SIZE]
        payload: dict = {"fulfillmentOrders": [self._order_json(o, st) for o, st in page]}
        if offset + PAGE_SIZE < len(touched):
            payload["nextToken"] = base64.urlsafe_b64encode(json.dumps(
                {"s": since.isoformat(), "o": offset + PAGE_SIZE}).encode()).decode().rstrip("=")
        return 200, {"payload": payload}

    def cancel(self, seller: str, order_id: str) -> tuple[int, dict]:
        order = self._order(seller, order_id)
        now = self.state.clock.now()
        with self._lock:
            status = order.status(now, self.state.speed)[0]
            if status == "Cancelled":
                return 200, {}
            if status not in CANCELLABLE:
                raise invalid(f"Fulfillment order {order_id} is {status} and can no longer be cancelled.")
            order.cancelled_at = now
            if not order.invalid:
                for item in order.request["items"]:
                    self.inventory[item["sellerSku"]] += item["quantity"]
        if order.amazon_order_id:
            history = self.state.find_order(seller, order.amazon_order_id)
            if history is not None:
                self.state.override(with_change(history, now, "CANCELLED"))
        return 200, {}

    def _publish(self, order: FulfillmentOrder) -> OrderHistory:
        """The order as the Orders API shows it: Amazon-fulfilled, of the NON_AMAZON channel, Pending until planned,
        then Unshipped, then Shipped when complete (or Unfulfillable when its SKU is stranded)."""
        request, speed = order.request, self.state.speed
        marketplace = request.get("marketplaceId") or _marketplace(None, request["destinationAddress"])
        _, currency, digits, _, _, factor, prefix = MARKETPLACES[marketplace]
        at = {name: order.received + timedelta(seconds=s / speed) for name, s in LIFECYCLE}
        events = [(order.received, "PENDING")]
        if order.stranded:
            events.append((at["Planning"] + timedelta(seconds=60 / speed), "UNFULFILLABLE"))
        else:
            events += [(at["Planning"], "UNSHIPPED"), (at["Complete"], "SHIPPED")]
        catalogue = {sku: (asin, title, usd) for sku, asin, title, usd in CATALOGUE}
        address = request["destinationAddress"]
        day = order.received.date()

        def make(index: int) -> OrderHistory:
            order_id = f"{prefix}-{day.toordinal() % 10_000_000:07d}-{seller_tag(order.seller):02d}{index:05d}"
            lines = []
            for n, item in enumerate(request["items"]):
                asin, title, usd = catalogue[item["sellerSku"]]
                declared = (item.get("perUnitDeclaredValue") or {}).get("value")
                unit = Decimal(declared) if declared else (usd * factor).quantize(Decimal(1).scaleb(-digits))
                lines.append(Line(f"{order_id.replace('-', '')[-11:]}{n:03d}", item["sellerSku"], asin, title,
                                  item["quantity"], unit, Decimal(0), Decimal(0), Decimal(0)))
            return OrderHistory(
                order_id=order_id, seller=order.seller, marketplace_id=marketplace, created_at=order.received,
                fulfilled_by="AMAZON", events=tuple(events), lines=tuple(lines), programs=(),
                buyer_name=address["name"], buyer_email="",
                address={"name": address["name"], "addressLine1": address["addressLine1"],
                         "addressLine2": address.get("addressLine2", ""), "city": address.get("city", ""),
                         "stateOrRegion": address.get("stateOrRegion", ""), "postalCode": address["postalCode"],
                         "countryCode": address["countryCode"], "phone": address.get("phone", ""),
                         "addressType": "RESIDENTIAL"},
                sales_channel="NON_AMAZON")

        return self.state.add_order(order.seller, day, make)

    # --- internals --------------------------------------------------------------------------------
    def _item_problem(self, sku: str, quantity: int) -> str | None:
        if sku not in self.inventory:
            return "InvalidSku"
        # A stranded SKU counts as sellable here: the preview says fulfillable for stock the fulfilment centre then
        # cannot pick, as users report (amzn/selling-partner-api-models#5260).
        if self.inventory[sku] < quantity:
            return "InventoryUnavailable"
        return None

    def _order(self, seller: str, order_id: str) -> FulfillmentOrder:
        with self._lock:
            order = self.store.orders.get((seller, order_id))
        if order is None:
            raise ApiError(404, "NotFound", f"Fulfillment order {order_id} was not found.")
        return order

    def _status(self, order: FulfillmentOrder, now: datetime) -> tuple[str, datetime]:
        return order.status(now, self.state.speed)

    def _order_json(self, order: FulfillmentOrder, status: tuple[str, datetime]) -> dict:
        r = order.request
        out = {"sellerFulfillmentOrderId": r["sellerFulfillmentOrderId"],
               "marketplaceId": r.get("marketplaceId") or _marketplace(None, r["destinationAddress"]),
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

    def _result(self, order: FulfillmentOrder, now: datetime) -> dict:
        status = self._status(order, now)
        name = status[0]
        done = name == "Complete"
        items = [{"sellerSku": i["sellerSku"], "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                  "quantity": i["quantity"],
                  "cancelledQuantity": i["quantity"] if name == "Cancelled" else 0,
                  "unfulfillableQuantity": i["quantity"] if name in ("Unfulfillable", "Invalid") else 0,
                  **({"perUnitDeclaredValue": i["perUnitDeclaredValue"]} if i.get("perUnitDeclaredValue") else {})}
                 for i in order.request["items"]]
        result: dict = {"fulfillmentOrder": self._order_json(order, status), "fulfillmentOrderItems": items,
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

    def report(self) -> dict:
        """For the emulator's control endpoint: accepted creates per sellerFulfillmentOrderId, and inventory."""
        with self._lock:
            return {"creates": dict(self.store.creates), "inventory": dict(self.inventory),
                    "stranded": sorted(self.stranded)}

    def configure(self, body: dict) -> dict:
        """Set sellable units per SKU (`inventory`) and SKUs the fulfilment centre will not find (`stranded`)."""
        with self._lock:
            for sku, units in (body.get("inventory") or {}).items():
                if type(units) is not int or units < 0:
                    raise ValueError(f"units of {sku} must be a whole number of at least 0")
                self.inventory[str(sku)] = units
            if "stranded" in body:
                self.stranded = {str(s) for s in body["stranded"]}
        return self.report()


def _date_time(value, name: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{name} must be an ISO 8601 date-time") from None


def _address(address, name: str) -> dict:
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


def _marketplace(marketplace_id, address: dict) -> str:
    if marketplace_id is not None:
        if marketplace_id not in MARKETPLACES:
            raise invalid(f"marketplaceId {marketplace_id!r} is not valid")
        return marketplace_id
    by_country = {country: m for m, (_, _, _, country, *_rest) in MARKETPLACES.items()}
    return by_country.get(address["countryCode"], "ATVPDKIKX0DER")


def _items(items) -> list[dict]:
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
