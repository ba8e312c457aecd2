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
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from amazon_orders_pipeline.emulator.catalogue import CATALOGUE, MARKETPLACES
from amazon_orders_pipeline.emulator.errors import ApiError, invalid, json_object
from amazon_orders_pipeline.emulator.fulfillment_orders import (
    ACTIONS,
    CANCELLABLE,
    DEFAULT_UNITS,
    LIFECYCLE,
    PAGE_SIZE,
    POLICIES,
    SPEEDS,
    FulfillmentOrder,
    order_json,
    order_result,
    request_address,
    request_items,
    request_marketplace,
    request_time,
)
from amazon_orders_pipeline.emulator.merchant import with_change
from amazon_orders_pipeline.emulator.orders import Line, OrderHistory, iso, seller_tag
from amazon_orders_pipeline.emulator.query import single as _single

FULFILLMENT_PATH = "/fba/outbound/2020-07-01/fulfillmentOrders"
PREVIEW_PATH = FULFILLMENT_PATH + "/preview"


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
        address = request_address(body.get("address"), "address")
        items = request_items(body.get("items"))
        marketplace = request_marketplace(body.get("marketplaceId"), address)
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
        request_time(body["displayableOrderDate"], "displayableOrderDate")
        if not isinstance(body["displayableOrderComment"], str) or len(body["displayableOrderComment"]) > 750:
            raise invalid("displayableOrderComment must be at most 750 characters")
        if body["shippingSpeedCategory"] not in SPEEDS:
            raise invalid(f"Value {body['shippingSpeedCategory']} for parameter ShippingSpeedCategory is invalid.")
        if body.get("fulfillmentAction", "Ship") not in ACTIONS:
            raise invalid(f"fulfillmentAction must be one of {list(ACTIONS)}")
        if body.get("fulfillmentPolicy", "FillOrKill") not in POLICIES:
            raise invalid(f"fulfillmentPolicy must be one of {list(POLICIES)}")
        address = request_address(body["destinationAddress"], "destinationAddress")
        request_marketplace(body.get("marketplaceId"), address)
        items = request_items(body["items"])
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
        return 200, {"payload": order_result(order, self._status(order, self.state.clock.now()))}

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
            since = request_time(raw, "queryStartDate") if raw else self.state.clock.now() - timedelta(days=1)
            offset = 0
        now = self.state.clock.now()
        with self._lock:
            mine = [o for (s, _), o in self.store.orders.items() if s == seller]
        touched = sorted(((o, self._status(o, now)) for o in mine), key=lambda x: (x[1][1], x[0].order_id))
        touched = [(o, st) for o, st in touched if st[1] >= since]
        page = touched[offset: offset + PAGE_SIZE]
        payload: dict = {"fulfillmentOrders": [order_json(o, st) for o, st in page]}
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
        marketplace = request.get("marketplaceId") or request_marketplace(None, request["destinationAddress"])
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


