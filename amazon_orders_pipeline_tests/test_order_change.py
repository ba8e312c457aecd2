"""ORDER_CHANGE notifications: the emulator's Notifications API and publisher against Amazon's models, the set-up
command, and the sensor that lands each message before deleting it and reads the changed orders with getOrder."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import jsonschema
import pytest
import requests

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.publishing import selling_partner_id
from amazon_orders_pipeline.notifications.inbox import NotificationInbox
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.notifications import run_requested, sensor_tick
from amazon_orders_pipeline.testing.runs import fast_resources, materialize_transform, query, sweep

from .spapi_models import load as load_model

ACCOUNT = "acme-us"
US = "ATVPDKIKX0DER"


def receive_all(queue) -> list[dict]:
    out = []
    while batch := queue.sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=0).get("Messages"):
        out.extend(batch)
    return out


def token(emulator, grant: dict) -> str:
    resp = requests.post(f"{emulator.url}/auth/o2/token", data={"client_id": "c", "client_secret": "s", **grant},
                         timeout=10)
    resp.raise_for_status()
    return resp.json()["access_token"]


def test_set_up_creates_the_destination_and_each_subscription_once(order_queue, emulator):
    first = order_queue.subscribe()
    again = order_queue.subscribe()
    assert first["destinations"]["NA"]["created"] and first["destinations"]["EU"]["created"] is False
    assert {a["created"] for a in first["accounts"].values()} == {True}
    assert again["destinations"]["NA"] == {**first["destinations"]["NA"], "created": False}
    assert {a: s["subscription_id"] for a, s in again["accounts"].items()} == \
        {a: s["subscription_id"] for a, s in first["accounts"].items()}
    assert {a["created"] for a in again["accounts"].values()} == {False}


def test_the_notifications_api_refuses_what_amazon_refuses(order_queue, emulator):
    seller = token(emulator, {"grant_type": "refresh_token", "refresh_token": "Atzr|n"})
    grantless = token(emulator, {"grant_type": "client_credentials", "scope": "sellingpartnerapi::notifications"})
    base = f"{emulator.url}/notifications/v1"

    def post(path, access, body):
        return requests.post(base + path, json=body, headers={"x-amz-access-token": access}, timeout=10)

    # A destination needs the grantless token; a subscription the seller's.
    spec = {"name": "q", "resourceSpecification": {"sqs": {"arn": order_queue.arn}}}
    assert post("/destinations", seller, spec).status_code == 403
    destination = post("/destinations", grantless, spec).json()["payload"]["destinationId"]
    assert post("/destinations", grantless, spec).status_code == 409
    body = {"payloadVersion": "1.0", "destinationId": destination}
    missing = post("/subscriptions/ORDER_CHANGE", seller, body)
    assert missing.status_code == 400 and "eventFilter must not be empty" in missing.text
    marketplaces = post("/subscriptions/ORDER_CHANGE", seller, {**body, "processingDirective": {"eventFilter": {
        "eventFilterType": "ORDER_CHANGE", "marketplaceIds": [US]}}})
    assert marketplaces.status_code == 400 and "failed to validate" in marketplaces.text
    assert post("/subscriptions/ORDER_CHANGE", grantless, body).status_code == 403
    ok = post("/subscriptions/ORDER_CHANGE", seller, {**body, "processingDirective": {"eventFilter": {
        "eventFilterType": "ORDER_CHANGE"}}})
    assert ok.status_code == 200 and ok.headers["x-amzn-RateLimit-Limit"] == "2000"
    model = load_model("notifications.json")
    schema = {**model["definitions"]["CreateSubscriptionResponse"], "definitions": model["definitions"]}
    jsonschema.validate(ok.json(), schema)


def test_published_messages_are_amazons_order_change_shape_after_a_delay(order_queue, emulator, control):
    order_queue.subscribe()
    start = emulator.state.clock.now()
    control.set_clock(start + timedelta(hours=3))
    emulator.backends.notifications.publish_due()
    messages = receive_all(order_queue)
    assert len(messages) == len(emulator.backends.notifications.published.sent) > 0
    schema = load_model("OrderChangeNotification.json")
    sellers = {selling_partner_id(seller_key(emulator_refresh_token(a))) for a in ("acme-us", "acme-eu")}
    for message in messages:
        body = json.loads(message["Body"])
        jsonschema.validate(body, schema)
        change = body["Payload"]["OrderChangeNotification"]
        assert change["SellerId"] in sellers
        changed = datetime.fromisoformat(change["OrderChangeTrigger"]["TimeOfOrderChange"].replace("Z", "+00:00"))
        published = datetime.fromisoformat(body["NotificationMetadata"]["PublishTime"].replace("Z", "+00:00"))
        assert start <= changed and timedelta(seconds=6) <= published - changed <= timedelta(seconds=240)
    assert len(messages) == len({json.loads(m["Body"])["NotificationMetadata"]["NotificationId"] for m in messages})


def test_a_notified_change_reaches_the_marts_through_get_order_before_any_sweep(order_queue, emulator, control):
    """The day's window is landed once; an order then ships, Amazon notifies, and the sensor's run reads it with
    getOrder (no searchOrders call), so the marts show it shipped although the index would not show it yet."""
    env, state = order_queue.env, emulator.state
    day = datetime.now(UTC).date() - timedelta(days=2)
    key = seller_key(emulator_refresh_token(ACCOUNT))
    d0 = datetime(day.year, day.month, day.day, tzinfo=UTC)
    order, shipped_at = next((o, o.events[-1][0]) for o in state.seller.orders_created_on(key, day)
                             if o.marketplace_id == US and o.events[-1][1] == "SHIPPED"
                             and d0 + timedelta(hours=14) < o.events[-1][0] < d0 + timedelta(hours=20)
                             and o.events[-2][0] < o.events[-1][0] - timedelta(hours=1))
    control.set_clock(shipped_at - timedelta(minutes=30))
    order_queue.subscribe()
    assert sweep(env, day, [ACCOUNT]).success
    control.set_clock(shipped_at + timedelta(minutes=5))  # published after at most 4 minutes
    emulator.backends.notifications.publish_due()
    searches = state.stats["searchOrders.calls"]
    with dg.instance_for_test() as instance:
        result = sensor_tick(env, instance)
        assert len(result.run_requests) == 1
        assert all(r.success for r in run_requested(env, instance, result))
        again = sensor_tick(env, instance, result.cursor)  # the run exists: nothing asked again
        assert not again.run_requests
    assert state.stats["searchOrders.calls"] == searches and state.stats["getOrder.calls"] >= 1
    assert order_queue.depth() == 0
    assert materialize_transform(env, day).success
    assert query(env["DUCKDB_PATH"], "select order_status from orders where order_id = ?", [order.order_id]) == [
        ("SHIPPED",)]
    landed = Path(env["LANDING_DIR"]) / "notifications" / "order_change" / f"date={day.isoformat()}"
    assert any(json.loads(p.read_text())["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order.order_id
               for p in landed.iterdir())


def test_a_crash_between_landing_and_deleting_loses_nothing_and_counts_nothing_twice(order_queue, emulator,
                                                                                       control):
    order_queue.subscribe()
    control.set_clock(emulator.state.clock.now() + timedelta(minutes=20))  # a few dozen changes
    emulator.backends.notifications.publish_due()  # whatever the publisher's own thread has not sent yet
    sent = len(emulator.backends.notifications.published.sent)
    assert sent > 0
    landing = LocalStore(order_queue.env["LANDING_DIR"])
    sellers = fast_resources(order_queue.env)["sp_api"].seller_ids()
    inbox = NotificationInbox(order_queue.sqs, order_queue.url, landing, sellers, visibility_timeout_s=6, wait_s=1)

    def crash():
        raise SystemExit("the sensor's process dies here")

    with pytest.raises(SystemExit):
        inbox.drain(before_delete=crash)
    # The emulator's clock runs on in real time, so its publisher may send a change more meanwhile: the first drain
    # holds at least what was sent above.
    landed = len(landing.keys("notifications/order_change/"))
    assert landed >= sent  # every message landed before the crash
    (batch,) = inbox.pending()
    ids = set(batch.notification_ids)
    assert len(ids) == landed
    time.sleep(6.5)  # the visibility timeout: the messages show again
    again = inbox.drain()  # nothing was deleted: every message comes again, and is batched no second time
    # A change that fell due meanwhile arrives new, in a batch of its own.
    new = again.received - landed
    assert again.duplicates == landed and new >= 0
    assert sum(len(b.notification_ids) for b in again.batches) == new
    assert not ids & {i for b in again.batches for i in b.notification_ids}
    assert order_queue.depth() == 0
    # The first batch once, every order in it once.
    assert sorted(b.batch_id for b in inbox.pending()) == sorted([batch.batch_id, *(b.batch_id for b in again.batches)])
    assert sum(len(o) for o in batch.orders.values()) == len({(a, o) for a, orders in batch.orders.items()
                                                              for o in orders})


def test_bad_messages_are_set_aside_with_their_reason_and_do_not_block_the_rest(order_queue, emulator, control):
    order_queue.subscribe()
    control.set_clock(emulator.state.clock.now() + timedelta(hours=1))
    emulator.backends.notifications.publish_due()
    (good,) = receive_all(order_queue)[:1] or [None]
    assert good is not None
    valid = json.loads(good["Body"])
    order_queue.sqs.purge_queue(QueueUrl=order_queue.url)

    def variant(change) -> str:
        body = json.loads(json.dumps(valid))
        change(body)
        return json.dumps(body)

    bad = {
        "not JSON": "{this is not json",
        "NotificationType": variant(lambda b: b.update(NotificationType="ANY_OFFER_CHANGED")),
        "is no account's": variant(lambda b: b["Payload"]["OrderChangeNotification"].update(SellerId="AUNKNOWN1")),
        "none of seller": variant(lambda b: b["Payload"]["OrderChangeNotification"]["Summary"].update(
            MarketplaceId="A1VC38T7YXB528")),
        "AmazonOrderId is missing": variant(lambda b: b["Payload"]["OrderChangeNotification"].pop("AmazonOrderId")),
        "not a JSON object": json.dumps(json.dumps(["double", "encoded", "garbage"])),
    }
    for body in bad.values():
        order_queue.sqs.send_message(QueueUrl=order_queue.url, MessageBody=body)
    # A valid message encoded twice (as Amazon's own sample handler expects) and a plain one, after the bad ones.
    order_queue.sqs.send_message(QueueUrl=order_queue.url, MessageBody=json.dumps(json.dumps(valid)))
    order_queue.sqs.send_message(QueueUrl=order_queue.url, MessageBody=variant(
        lambda b: b["NotificationMetadata"].update(NotificationId="another-notification")))
    landing = LocalStore(order_queue.env["LANDING_DIR"])
    inbox = NotificationInbox(order_queue.sqs, order_queue.url, landing,
                             fast_resources(order_queue.env)["sp_api"].seller_ids(), wait_s=0)
    result = inbox.drain()
    assert result.received == len(bad) + 2 and result.landed == 2 and order_queue.depth() == 0
    assert len(result.quarantined) == len(bad)
    for expected in bad:
        assert sum(expected in reason for reason in result.quarantined) == 1, expected
    quarantined = [json.loads(landing.get(k)) for k in landing.keys("notifications/quarantine/")]
    assert sorted(q["body"] for q in quarantined) == sorted(bad.values())
    (batch,) = result.batches
    order_id = valid["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    assert [o for orders in batch.orders.values() for o in orders] == [order_id]
    assert len(batch.notification_ids) == 2


def test_a_double_encoded_body_is_read_as_amazons_sample_reads_it():
    from amazon_orders_pipeline.notifications.messages import parse

    example = load_model("OrderChangeNotification.json")["examples"][0]
    change = example["Payload"]["OrderChangeNotification"]
    sellers = {change["SellerId"]: [("acme-us", (change["Summary"]["MarketplaceId"],))]}
    plain, double = parse(json.dumps(example), sellers), parse(json.dumps(json.dumps(example)), sellers)
    assert plain.order_id == double.order_id == change["AmazonOrderId"] and double.double_encoded
    assert plain.changed_at == datetime(2022, 11, 29, 19, 42, 4, 284000, tzinfo=UTC)
