"""The emulator's Fulfillment Outbound API 2020-07-01 (Multi-Channel Fulfillment) against Amazon's model: preview,
create (once per sellerFulfillmentOrderId), the lifecycle over emulated time with shipments and tracking, list,
cancel, and the ways an order is refused or goes Invalid or Unfulfillable."""

from __future__ import annotations

from datetime import timedelta

import jsonschema
import pytest
import requests

from amazon_orders_pipeline.testing.conformance import token, validate

from .spapi_models import load as load_model

BASE = "/fba/outbound/2020-07-01/fulfillmentOrders"
ADDRESS = {"name": "Ada Lovelace", "addressLine1": "1 Main Street", "city": "Seattle", "stateOrRegion": "WA",
           "postalCode": "98101", "countryCode": "US", "phone": "+1 206 555 0100"}
ENUM = {"New", "Received", "Planning", "Processing", "Cancelled", "Complete", "CompletePartialled", "Unfulfillable",
        "Invalid"}


@pytest.fixture(scope="module")
def model():
    return load_model("fulfillmentOutbound_2020-07-01.json")


@pytest.fixture
def call(emulator):
    access = token(emulator.url, "Atzr|mcf-shop")

    def do(method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, emulator.url + path, headers={"x-amz-access-token": access}, timeout=10,
                                **kwargs)
    return do


def order(order_id: str, *items: tuple[str, int], **extra) -> dict:
    return {"sellerFulfillmentOrderId": order_id, "displayableOrderId": order_id,
            "displayableOrderDate": "2026-11-27T10:00:00Z", "displayableOrderComment": "Thank you for your order",
            "shippingSpeedCategory": "Standard", "destinationAddress": ADDRESS,
            "items": [{"sellerSku": sku, "sellerFulfillmentOrderItemId": f"{order_id}-{n}", "quantity": q,
                       "perUnitDeclaredValue": {"currencyCode": "USD", "value": "49.99"}}
                      for n, (sku, q) in enumerate(items)], **extra}


def as_enum(body: dict) -> dict:
    """The body with each fulfillmentOrderStatus in the enum's casing: the emulator serves some in capitals, as the
    model's own examples do, and the enum is what the rest of the model is checked against."""
    def fix(node):
        if isinstance(node, dict):
            return {k: (next(s for s in ENUM if s.lower() == v.lower()) if k == "fulfillmentOrderStatus" else fix(v))
                    for k, v in node.items()}
        return [fix(v) for v in node] if isinstance(node, list) else node
    return fix(body)


def status(resp: requests.Response) -> str:
    value = resp.json()["payload"]["fulfillmentOrder"]["fulfillmentOrderStatus"]
    (canonical,) = [s for s in ENUM if s.lower() == value.lower()]  # the model's enum, in either casing
    return canonical


def test_a_fulfillment_order_is_created_once_and_moves_to_complete_with_tracking(emulator, control, call, model):
    body = order("shop-1001", ("ECHO-DOT-5-CHARCOAL", 2), ("USB-C-CABLE-2M", 1))
    validate(model, "CreateFulfillmentOrderRequest", body)
    created = call("POST", BASE, json=body)
    assert created.status_code == 200 and created.headers["x-amzn-RateLimit-Limit"]
    validate(model, "CreateFulfillmentOrderResponse", created.json())
    again = call("POST", BASE, json=body)
    assert again.status_code == 400 and "already exists" in again.json()["errors"][0]["details"]
    assert requests.get(f"{emulator.url}/_emulator/fulfillment", timeout=10).json()["creates"]["shop-1001"] == 1

    start = emulator.state.clock.now()
    seen = []
    for minutes in (0, 40, 200, 400):  # Received, Planning, Processing, Complete (at --speed, in Amazon's time)
        control.set_clock(start + timedelta(minutes=minutes) / emulator.state.speed * 1)
        got = call("GET", f"{BASE}/shop-1001")
        assert got.status_code == 200
        validate(model, "GetFulfillmentOrderResponse", as_enum(got.json()))
        seen.append(status(got))
    assert seen == ["Received", "Planning", "Processing", "Complete"]
    (shipment,) = got.json()["payload"]["fulfillmentShipments"]
    assert shipment["fulfillmentShipmentStatus"] == "SHIPPED"
    (package,) = shipment["fulfillmentShipmentPackage"]
    assert package["trackingNumber"].startswith("TBA") and package["carrierCode"] == "AMZL_US"
    assert sum(i["quantity"] for i in shipment["fulfillmentShipmentItem"]) == 3


def test_preview_tells_what_cannot_be_fulfilled_and_create_refuses_or_invalidates_as_amazon_does(
        emulator, control, call, model):
    requests.post(f"{emulator.url}/_emulator/fulfillment", json={"inventory": {"KINDLE-PW-16GB": 1},
                                                                 "stranded": ["YOGA-MAT-6MM"]}, timeout=10)
    preview = call("POST", f"{BASE}/preview", json={"address": ADDRESS, "items": [
        {"sellerSku": "KINDLE-PW-16GB", "sellerFulfillmentOrderItemId": "a", "quantity": 2},
        {"sellerSku": "NO-SUCH-SKU", "sellerFulfillmentOrderItemId": "b", "quantity": 1}]})
    assert preview.status_code == 200
    validate(model, "GetFulfillmentPreviewResponse", preview.json())
    first = preview.json()["payload"]["fulfillmentPreviews"][0]
    assert first["isFulfillable"] is False
    assert {i["sellerSku"]: i["itemUnfulfillableReasons"] for i in first["unfulfillablePreviewItems"]} == {
        "KINDLE-PW-16GB": ["InventoryUnavailable"], "NO-SUCH-SKU": ["InvalidSku"]}

    unknown = call("POST", BASE, json=order("shop-2001", ("NO-SUCH-SKU", 1)))
    assert unknown.status_code == 400 and "is invalid" in unknown.json()["errors"][0]["details"]
    number = order("shop-2002", ("ECHO-DOT-5-CHARCOAL", 1))
    number["items"][0]["perUnitDeclaredValue"]["value"] = 49.99  # a number, not the model's decimal string
    with pytest.raises(jsonschema.ValidationError):
        validate(model, "CreateFulfillmentOrderRequest", number)
    refused = call("POST", BASE, json=number)
    assert refused.status_code == 400 and refused.json()["errors"][0]["details"] == "missing value for decimal type"
    no_city = order("shop-2003", ("ECHO-DOT-5-CHARCOAL", 1), destinationAddress={**ADDRESS, "city": ""})
    assert "city" in call("POST", BASE, json=no_city).json()["errors"][0]["details"]

    assert call("POST", BASE, json=order("shop-2004", ("KINDLE-PW-16GB", 2))).status_code == 200
    assert status(call("GET", f"{BASE}/shop-2004")) == "Invalid"
    assert call("POST", BASE, json=order("shop-2005", ("YOGA-MAT-6MM", 1))).status_code == 200
    control.set_clock(emulator.state.clock.now() + timedelta(hours=1) / emulator.state.speed)
    assert status(call("GET", f"{BASE}/shop-2005")) == "Unfulfillable"
    assert call("GET", f"{BASE}/shop-9999").status_code == 404


def test_cancel_while_received_or_planning_not_once_processing_and_list_pages_since_a_date(
        emulator, control, call, model):
    start = emulator.state.clock.now()
    for n in range(3):
        assert call("POST", BASE, json=order(f"shop-300{n}", ("FIRE-TV-4K-MAX", 1))).status_code == 200
    assert call("PUT", f"{BASE}/shop-3000/cancel").status_code == 200
    assert status(call("GET", f"{BASE}/shop-3000")) == "Cancelled"
    assert call("PUT", f"{BASE}/shop-3000/cancel").status_code == 200  # cancelling again changes nothing
    control.set_clock(start + timedelta(hours=3) / emulator.state.speed)
    late = call("PUT", f"{BASE}/shop-3001/cancel")
    assert late.status_code == 400 and "Processing" in late.json()["errors"][0]["details"]
    listed = call("GET", BASE, params={"queryStartDate": (start - timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")})
    assert listed.status_code == 200
    validate(model, "ListAllFulfillmentOrdersResponse", as_enum(listed.json()))
    served = {o["fulfillmentOrderStatus"] for o in listed.json()["payload"]["fulfillmentOrders"]}
    assert any(v.isupper() for v in served) and any(not v.isupper() for v in served)  # both casings, as Amazon's
    orders = {o["sellerFulfillmentOrderId"]: o for o in listed.json()["payload"]["fulfillmentOrders"]}
    assert {"shop-3000", "shop-3001", "shop-3002"} <= set(orders)
    assert orders["shop-3000"]["fulfillmentOrderStatus"].lower() == "cancelled"
