"""The emulator's write operations against Amazon's models: confirmShipment (Orders v0, with its sandbox cases) and
the Feeds API's order acknowledgement feed, and what they do to the seller's orders."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from datetime import timedelta

import jsonschema
import pytest
import requests

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.orders import OrderHistory
from amazon_orders_pipeline.testing.conformance import token, validate
from amazon_orders_pipeline.writes.mfn import ack_feed

from .spapi_models import load as load_model

REFRESH = "Atzr|writeback-seller"
US = "ATVPDKIKX0DER"


@pytest.fixture(scope="module")
def models():
    return {"v0": load_model("ordersV0.json"), "feeds": load_model("feeds_2021-06-30.json")}


def open_orders(emulator, n: int, lines: int = 1, fulfilled_by: str = "MERCHANT") -> list[OrderHistory]:
    """US orders unshipped now (and for hours yet), with at least `lines` lines."""
    state = emulator.state
    now = state.clock.now()
    out = []
    for o in state.seller.candidates(seller_key(REFRESH), now - timedelta(days=1), now):
        s = o.state_as_of(now)
        later = [ts for ts, _ in o.events if ts > now]
        if (o.marketplace_id == US and o.fulfilled_by == fulfilled_by and s and s[1] == "UNSHIPPED"
                and len(o.lines) >= lines and (not later or later[0] > now + timedelta(hours=3))):
            out.append(o)
        if len(out) == n:
            return out
    raise AssertionError("not enough open orders")


def confirm(emulator, access: str, order_id: str, body: dict) -> requests.Response:
    return requests.post(f"{emulator.url}/orders/v0/orders/{order_id}/shipmentConfirmation", json=body,
                         headers={"x-amz-access-token": access}, timeout=10)


def package(order: OrderHistory, reference: str, items: list[tuple[int, int]] | None = None) -> dict:
    """A ConfirmShipmentRequest for lines (index, quantity) of the order; all of them by default."""
    chosen = items if items is not None else [(n, line.quantity) for n, line in enumerate(order.lines)]
    return {"marketplaceId": US, "packageDetail": {
        "packageReferenceId": reference, "carrierCode": "UPS", "trackingNumber": f"1Z{reference}",
        "shipDate": "2026-01-02T03:04:05Z",
        "orderItems": [{"orderItemId": order.lines[n].order_item_id, "quantity": q} for n, q in chosen]}}


def status_of(emulator, access: str, order_id: str) -> tuple[str, list[int]]:
    order = requests.get(f"{emulator.url}/orders/2026-01-01/orders/{order_id}", params={"includedData": "FULFILLMENT"},
                         headers={"x-amz-access-token": access}, timeout=10).json()["order"]
    return (order["fulfillment"]["fulfillmentStatus"],
            [i["fulfillment"]["quantityFulfilled"] for i in order["orderItems"]])


def test_confirm_shipment_answers_the_sandbox_cases_as_amazon_does(emulator, models, sandbox_cases):
    access = token(emulator.url, REFRESH)
    order, = open_orders(emulator, 1)
    for case in [c for c in sandbox_cases if c["operation"] == "confirmShipment"]:
        body = copy.deepcopy(case["request"]["body"])
        if case["response_status"] == 204:
            validate(models["v0"], "ConfirmShipmentRequest", body)
        else:  # the 400 case's shipDate ("02/21/2022") is not the model's date-time
            with pytest.raises(jsonschema.ValidationError):
                validate(models["v0"], "ConfirmShipmentRequest", body)
        body["packageDetail"]["orderItems"][0]["orderItemId"] = order.lines[0].order_item_id
        body["packageDetail"]["orderItems"][0]["quantity"] = order.lines[0].quantity
        resp = confirm(emulator, access, order.order_id, body)
        assert resp.status_code == case["response_status"]
        assert resp.headers["x-amzn-RateLimit-Limit"] and resp.headers["x-amzn-RequestId"]
        if resp.status_code == 204:
            assert resp.content == b""
        else:
            assert resp.json() == case["response_body"]
            validate(models["v0"], "ConfirmShipmentErrorResponse", resp.json())


def test_packages_ship_an_order_in_parts_an_edit_adds_nothing_and_bad_packages_get_amazons_errors(emulator):
    access = token(emulator.url, REFRESH)
    order, = open_orders(emulator, 1, lines=2)
    afn, = open_orders(emulator, 1, fulfilled_by="AMAZON")
    first = package(order, "1", [(0, order.lines[0].quantity)])
    assert confirm(emulator, access, order.order_id, first).status_code == 204
    assert status_of(emulator, access, order.order_id) == (
        "PARTIALLY_SHIPPED", [order.lines[0].quantity] + [0] * (len(order.lines) - 1))
    # The same reference again edits the package: the order is as it was, one package created.
    assert confirm(emulator, access, order.order_id, {**first, "packageDetail": {
        **first["packageDetail"], "trackingNumber": "1Z-corrected"}}).status_code == 204
    assert status_of(emulator, access, order.order_id)[0] == "PARTIALLY_SHIPPED"

    def error(order_id: str, body: dict) -> str:
        resp = confirm(emulator, access, order_id, body)
        assert resp.status_code == 400, resp.text
        return resp.json()["errors"][0].get("details", "")

    over = package(order, "2", [(0, 1)])  # line 0 is all shipped already
    assert "exceeds its unshipped quantity" in error(order.order_id, over)
    assert "OrderItemId is invalid" in error(order.order_id, {**over, "packageDetail": {
        **over["packageDetail"], "orderItems": [{"orderItemId": "999", "quantity": 1}]}})
    assert "must be a positive numeric value" in error(order.order_id, package(order, "0", [(1, 1)]))
    assert "fulfilled by Amazon" in error(afn.order_id, package(afn, "1"))
    assert requests.post(f"{emulator.url}/orders/v0/orders/114-0000000-0000009/shipmentConfirmation",
                         json=package(order, "3"), headers={"x-amz-access-token": access},
                         timeout=10).status_code == 404

    rest = [(n, line.quantity) for n, line in enumerate(order.lines) if n > 0]
    assert confirm(emulator, access, order.order_id, package(order, "2", rest)).status_code == 204
    assert status_of(emulator, access, order.order_id) == ("SHIPPED", [line.quantity for line in order.lines])
    assert "PackageToUpdateNotFound" in error(order.order_id, package(order, "4", [(0, 1)]))
    # v0 reads the same packages.
    items = requests.get(f"{emulator.url}/orders/v0/orders/{order.order_id}/orderItems",
                         headers={"x-amz-access-token": access}, timeout=10).json()["payload"]["OrderItems"]
    assert [i["QuantityShipped"] for i in items] == [line.quantity for line in order.lines]
    counts = requests.get(f"{emulator.url}/_emulator/merchant", timeout=10).json()
    assert counts["created"] == {f"{order.order_id}/1": 1, f"{order.order_id}/2": 1}
    assert counts["edited"] == {f"{order.order_id}/1": 1}


def test_an_acknowledgement_feed_cancels_what_it_may_and_reports_the_rest_by_message(emulator, control, models):
    access = token(emulator.url, REFRESH)
    headers = {"x-amz-access-token": access}
    url = emulator.url + "/feeds/2021-06-30"
    cancel, shipped = open_orders(emulator, 2)
    afn, = open_orders(emulator, 1, fulfilled_by="AMAZON")
    assert confirm(emulator, access, shipped.order_id, package(shipped, "7")).status_code == 204

    created = requests.post(f"{url}/documents", json={"contentType": ack_feed.CONTENT_TYPE}, headers=headers,
                            timeout=10)
    assert created.status_code == 201
    validate(models["feeds"], "CreateFeedDocumentResponse", created.json())
    content = ack_feed.document("SELLER", [
        ack_feed.Cancellation(1, cancel.order_id, [line.order_item_id for line in cancel.lines], "NoInventory"),
        ack_feed.Cancellation(2, shipped.order_id, [line.order_item_id for line in shipped.lines], "NoInventory"),
        ack_feed.Cancellation(3, afn.order_id, [line.order_item_id for line in afn.lines], "NoInventory"),
        ack_feed.Cancellation(4, "114-0000000-0000009", ["1"], "NoInventory")])
    assert requests.put(created.json()["url"], data=content, timeout=10).status_code == 200
    resp = requests.post(f"{url}/feeds", headers=headers, timeout=10, json={
        "feedType": ack_feed.FEED_TYPE, "marketplaceIds": [US],
        "inputFeedDocumentId": created.json()["feedDocumentId"]})
    assert resp.status_code == 202
    validate(models["feeds"], "CreateFeedResponse", resp.json())
    feed_id = resp.json()["feedId"]
    feed = requests.get(f"{url}/feeds/{feed_id}", headers=headers, timeout=10).json()
    validate(models["feeds"], "Feed", feed)
    assert feed["processingStatus"] == "IN_QUEUE" and "resultFeedDocumentId" not in feed
    assert status_of(emulator, access, cancel.order_id)[0] == "UNSHIPPED"  # not before processing ends

    control.set_clock(emulator.state.clock.now() + timedelta(minutes=5))
    feed = requests.get(f"{url}/feeds/{feed_id}", headers=headers, timeout=10).json()
    assert feed["processingStatus"] == "DONE"
    listed = requests.get(f"{url}/feeds", params={"feedTypes": ack_feed.FEED_TYPE}, headers=headers, timeout=10)
    validate(models["feeds"], "GetFeedsResponse", listed.json())
    assert [f["feedId"] for f in listed.json()["feeds"]] == [feed_id]
    document = requests.get(f"{url}/documents/{feed['resultFeedDocumentId']}", headers=headers, timeout=10).json()
    validate(models["feeds"], "FeedDocument", document)
    report = ack_feed.read_report(requests.get(document["url"], timeout=10).content)
    assert report.processed == 4 and set(report.errors) == {2, 3, 4} and report.fatal is None
    assert "shipped items" in report.errors[2] and "fulfilled by Amazon" in report.errors[3]
    assert "was not found" in report.errors[4]
    assert status_of(emulator, access, cancel.order_id)[0] == "CANCELLED"
    assert status_of(emulator, access, shipped.order_id)[0] == "SHIPPED"
    # A feed no longer IN_QUEUE cannot be cancelled; an unknown feed is Amazon's 404 envelope.
    assert requests.delete(f"{url}/feeds/{feed_id}", headers=headers, timeout=10).status_code == 400
    missing = requests.get(f"{url}/feeds/1", headers=headers, timeout=10)
    assert missing.status_code == 404
    validate(models["feeds"], "ErrorList", missing.json())


def test_a_document_that_is_not_an_acknowledgement_envelope_ends_fatal_with_a_report(emulator, control):
    access = token(emulator.url, REFRESH)
    headers = {"x-amz-access-token": access}
    url = emulator.url + "/feeds/2021-06-30"
    created = requests.post(f"{url}/documents", json={"contentType": "text/xml"}, headers=headers, timeout=10).json()
    # createFeed before the upload: Amazon's InvalidInput.
    spec = {"feedType": ack_feed.FEED_TYPE, "marketplaceIds": [US], "inputFeedDocumentId": created["feedDocumentId"]}
    assert requests.post(f"{url}/feeds", json=spec, headers=headers, timeout=10).status_code == 400
    requests.put(created["url"], data=b"<AmazonEnvelope><Message>", timeout=10)
    feed_id = requests.post(f"{url}/feeds", json=spec, headers=headers, timeout=10).json()["feedId"]
    control.set_clock(emulator.state.clock.now() + timedelta(minutes=5))
    feed = requests.get(f"{url}/feeds/{feed_id}", headers=headers, timeout=10).json()
    assert feed["processingStatus"] == "FATAL"
    document = requests.get(f"{url}/documents/{feed['resultFeedDocumentId']}", headers=headers, timeout=10).json()
    report = ack_feed.read_report(requests.get(document["url"], timeout=10).content)
    assert report.fatal and "malformed or invalid XML" in report.fatal
    ET.fromstring(requests.get(document["url"], timeout=10).content)  # the report itself is well-formed
