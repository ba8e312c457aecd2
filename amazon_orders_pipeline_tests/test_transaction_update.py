"""TRANSACTION_UPDATE: the emulator publishes one message per posted transaction in Amazon's shape, the sensor lands
them, sets the malformed aside, and once Amazon lists the transactions asks for a finances run that reads the
notified orders by ORDER_ID; their money reaches order_financials with each transaction under its own posted day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import jsonschema
import pytest

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.publishing import NotificationFaults, is_lost, selling_partner_id
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.emulator.transaction_update import KIND
from amazon_orders_pipeline.finances.landing import TransactionStore
from amazon_orders_pipeline.local_runs import materialize_finance_models
from amazon_orders_pipeline.notifications.inbox import NotificationInbox
from amazon_orders_pipeline.notifications.messages import Rejected, TransactionUpdate, parse
from amazon_orders_pipeline.schedules import FINANCES_JOB
from amazon_orders_pipeline.sensors import NOTIFIED_READ_DELAY
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS, emulator_env
from amazon_orders_pipeline.testing.notifications import OrderQueue, run_requested, sensor_tick

from .spapi_models import load as load_model

MONEY = ("TRANSACTION_UPDATE",)


def seller_of(account_id: str) -> str:
    return seller_key(emulator_refresh_token(account_id))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def money_queue(tmp_path, moto_server):
    """A seller of 40 orders a day, its money published to a queue on moto server."""
    (tmp_path / "accounts.yaml").write_text(TWO_ACCOUNTS)
    with Emulator(speed=2000, seed=7, orders_per_day=40) as emulator:
        # The tests publish what fell due themselves (publish_due), so that what was sent is known at each step.
        emulator.backends.notifications.close()
        env = emulator_env(emulator.url, tmp_path, tmp_path / "accounts.yaml")
        yield OrderQueue.create(moto_server, emulator, env), emulator


def receive_all(queue: OrderQueue) -> list[dict]:
    out = []
    while batch := queue.sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=0).get("Messages"):
        out.extend(batch)
    return out


def test_each_posted_transaction_is_published_in_amazons_shape(money_queue):
    queue, emulator = money_queue
    made = queue.subscribe(MONEY)
    assert {a["subscriptions"]["TRANSACTION_UPDATE"]["created"] for a in made["accounts"].values()} == {True}
    start = emulator.state.clock.now()
    EmulatorControl(emulator).set_clock(start + timedelta(hours=20))
    emulator.backends.notifications.publish_due()
    messages = [json.loads(m["Body"]) for m in receive_all(queue)]
    sent = emulator.backends.notifications.published.sent
    assert len(messages) == len(sent) > 0 and {s["type"] for s in sent} == {"TRANSACTION_UPDATE"}
    schema = load_model("TransactionUpdateNotification.json")
    sellers = {selling_partner_id(seller_of(a)): seller_of(a) for a in ("acme-us", "acme-eu")}
    ledger = emulator.backends.finances
    with_order = 0
    for body in messages:
        jsonschema.validate(body, schema)
        note = body["Payload"]["TransactionUpdateNotification"]
        assert "transactionId" not in json.dumps(note) and "TransactionId" not in json.dumps(note)
        seller = sellers[note["SellingPartnerMetadata"]["SellingPartnerId"]]
        posted = _time(note["PostedDate"])
        published = _time(body["NotificationMetadata"]["PublishTime"])
        assert start <= posted and timedelta(seconds=6) <= published - posted <= timedelta(seconds=240)
        related = {r["RelatedIdentifierName"]: r["RelatedIdentifierValue"] for r in note.get("RelatedIdentifiers", [])}
        if "OrderId" in related:
            with_order += 1
            # The order's ledger has the transaction the message announces: its type, its time, its total.
            matches = [p for p in ledger.of_order(seller, related["OrderId"])
                       if abs(p.posted_at - posted) < timedelta(milliseconds=1)
                       and p.transaction_type == note["TransactionType"]]
            assert len(matches) == 1
            assert Decimal(str(note["TotalAmount"]["CurrencyAmount"])) == matches[0].total.quantize(Decimal("0.01"))
            assert note["TotalAmount"]["CurrencyCode"] == matches[0].currency
    assert with_order > 0
    ids = [b["NotificationMetadata"]["NotificationId"] for b in messages]
    assert len(ids) == len(set(ids))


ACCOUNTS = {"A1SELLER": [("acme-us", ("ATVPDKIKX0DER",)), ("acme-eu", ("A1PA6795UKMFR9",))]}


def message(**note) -> str:
    body = {"NotificationVersion": "1.0", "NotificationType": "TRANSACTION_UPDATE", "PayloadVersion": "1.0",
            "EventTime": "2026-10-01T10:00:00.000Z",
            "Payload": {"TransactionUpdateNotification": {
                "SellingPartnerMetadata": {"SellingPartnerId": "A1SELLER", "MarketplaceId": "A1PA6795UKMFR9",
                                           "AccountType": "PAYABLE"},
                "RelatedIdentifiers": [{"RelatedIdentifierName": "OrderId",
                                        "RelatedIdentifierValue": "302-1234567-1234567"}],
                "TransactionType": "Shipment", "PostedDate": "2026-10-01T09:59:00.000Z",
                "TotalAmount": {"CurrencyAmount": 10.5, "CurrencyCode": "EUR"}}},
            "NotificationMetadata": {"ApplicationId": "app", "SubscriptionId": "sub", "PublishTime":
                                     "2026-10-01T10:00:00.000Z", "NotificationId": "n-1"}}
    body["Payload"]["TransactionUpdateNotification"].update(note)
    return json.dumps({k: v for k, v in body.items() if v is not None})


def test_a_transaction_update_is_read_or_set_aside_with_its_reason():
    update = parse(message(), ACCOUNTS)
    assert update == TransactionUpdate("n-1", "acme-eu", "302-1234567-1234567", _time("2026-10-01T09:59:00Z"),
                                       "Shipment", "10.5", "EUR")
    assert update.day == date(2026, 10, 1)
    assert parse(json.dumps(message()), ACCOUNTS).double_encoded
    # listTransactions' spelling is read too; a fee without an order is read with none.
    assert parse(message(RelatedIdentifiers=[{"RelatedIdentifierName": "ORDER_ID", "RelatedIdentifierValue": "X-1"}]),
                 ACCOUNTS).order_id == "X-1"
    assert parse(message(RelatedIdentifiers=None, TransactionType="ServiceFee"), ACCOUNTS).order_id is None
    bad = {
        "PostedDate": (message(PostedDate="yesterday"), "PostedDate is missing or not a date-time"),
        "seller": (message(SellingPartnerMetadata={"SellingPartnerId": "ZZZ", "MarketplaceId": "x"}),
                   "SellerId 'ZZZ' is no account's"),
        "marketplace": (message(SellingPartnerMetadata={"SellingPartnerId": "A1SELLER", "MarketplaceId": "JP"}),
                        "MarketplaceId 'JP' is in none"),
        "order id": (message(RelatedIdentifiers=[{"RelatedIdentifierName": "OrderId",
                                                  "RelatedIdentifierValue": "302 1"}]), "the OrderId is malformed"),
        "amount": (message(TotalAmount={"CurrencyCode": "EUR"}), "TotalAmount has no CurrencyAmount"),
        "type": (message(TransactionType=""), "no TransactionType"),
        "payload": (json.dumps({"NotificationType": "TRANSACTION_UPDATE", "Payload": {}}),
                    "no Payload.TransactionUpdateNotification"),
        "not json": ("{", "not JSON"),
        "another type": (json.dumps({"NotificationType": "REPORT_PROCESSING_FINISHED"}), "NotificationType is"),
    }
    for name, (body, reason) in bad.items():
        with pytest.raises(Rejected, match=reason.replace("(", r"\(").replace("'", "'")):
            parse(body, ACCOUNTS)
        assert name


def test_notified_orders_are_read_once_amazon_lists_them_and_reach_the_money_marts(money_queue):
    """Money posted over a day is notified; the sensor lands it and waits for Amazon's 48-hour listing lag, then
    asks for one finances run per posted day's batch that reads only the notified orders (by ORDER_ID). Malformed
    messages on the same queue are set aside; the queue ends empty; the marts hold every notified order's money."""
    queue, emulator = money_queue
    queue.subscribe(MONEY)
    control, instance = EmulatorControl(emulator), dg.DagsterInstance.ephemeral()
    start = emulator.state.clock.now()
    control.set_clock(start + timedelta(hours=20))
    emulator.backends.notifications.publish_due()
    queue.sqs.send_message(QueueUrl=queue.url, MessageBody="{not json")
    queue.sqs.send_message(QueueUrl=queue.url, MessageBody=message())  # a seller that is no account's
    sent = [s for s in emulator.backends.notifications.published.sent if s["order_id"]]
    notified = {s["order_id"] for s in sent}
    assert notified
    # Each notified order's account: the seller whose ledger posted the notified transaction.
    keys = {s["key"] for s in sent}
    account_of = {o: a for a in ("acme-us", "acme-eu") for o in notified
                  if any(p.transaction_id in keys for p in emulator.backends.finances.of_order(seller_of(a), o))}
    assert set(account_of) == notified

    first = sensor_tick(queue.env, instance)
    assert not first.run_requests and "wait for Amazon to list them" in first.skip_reason.skip_message
    cursor = json.loads(first.cursor)
    assert cursor["quarantined"] == 2 and cursor["landed"] >= len(sent) + cursor["without_order"]
    assert queue.depth() == 0
    quarantined = LocalStore(queue.env["LANDING_DIR"]).keys("notifications/quarantine/")
    assert len(quarantined) == 2

    # Past the listing lag of the latest notified posting: one run per posted day, in the finances job.
    latest = max(s["changed_at"] for s in sent)
    read_at = latest + NOTIFIED_READ_DELAY + timedelta(minutes=5)
    control.set_clock(read_at)
    second = sensor_tick(queue.env, instance, first.cursor)
    requests = second.run_requests
    days = {s["changed_at"].date() for s in sent}
    assert {r.job_name for r in requests} == {FINANCES_JOB}
    assert {r.tags["amazon_orders/order_batch"].removeprefix("money-")[:10] for r in requests} == \
        {d.isoformat() for d in days}
    results = run_requested(queue.env, instance, second)
    assert all(r.success for r in results)
    # The sensor asks no second time for a batch a run exists for.
    assert not sensor_tick(queue.env, instance, second.cursor).run_requests

    # Only the notified orders were read, by ORDER_ID, and landed with the day the notifications named.
    store = LocalStore(queue.env["LANDING_DIR"])
    read_orders = set()
    for account_id in ("acme-us", "acme-eu"):
        for day in days:
            landing = TransactionStore(store, account_id, day)
            for read_id in landing.read_ids():
                done = landing.done(read_id)
                assert done is not None and "orders" in done
                read_orders |= set(done["orders"])
                assert all(p["params"]["relatedIdentifierName"] == "ORDER_ID" for _, p in landing.pages(read_id))
    assert notified <= read_orders

    # A notified order's transactions of other days are filed under their own posted days, which the models build
    # when those days are next read (they were read before, in a running pipeline); here, all days at once.
    with duckdb.connect(queue.env["DUCKDB_PATH"], read_only=True) as conn:
        low, high = conn.execute("select min(partition_date), max(partition_date) "
                                 "from raw.transaction_records").fetchone()
    assert low < min(days)
    models = materialize_finance_models(low, high, environ=queue.env, instance=instance)
    assert models.success
    now = emulator.state.clock.now()
    with duckdb.connect(queue.env["DUCKDB_PATH"], read_only=True) as conn:
        staged = conn.execute("select order_id, transaction_id, partition_date, posted_at "
                              "from staging.stg_amazon_sp_api__transactions").fetchall()
        marts = {r[0]: r[1] for r in conn.execute(
            "select order_id, net_proceeds from main.order_financials").fetchall()}
    # Each transaction filed under its own posted day; every notified order's listed money is in the mart.
    assert all(day == posted.astimezone(UTC).date() for _, _, day, posted in staged)
    found = 0
    for order_id, account_id in account_of.items():
        ledger = emulator.backends.finances.of_order(seller_of(account_id), order_id)
        surely = {p.transaction_id for p in ledger if p.listable_at <= read_at}
        at_most = {p.transaction_id for p in ledger if p.listable_at <= now}
        assert surely <= {t for o, t, _, _ in staged if o == order_id} <= at_most
        if surely:
            found += 1
            assert marts[order_id] is not None
    assert found > 0


def test_lost_duplicated_and_late_messages_batch_each_notified_order_once(money_queue):
    """Amazon's delivery faults on TRANSACTION_UPDATE: a duplicate is landed again and batched no second time, a
    late message joins its posted day's batch, a lost one leaves its order to the posted day's own reads."""
    queue, emulator = money_queue
    queue.subscribe(MONEY)
    emulator.backends.notifications.faults = NotificationFaults.from_dict(
        {"lost": 0.2, "duplicated": 0.3, "late": 0.2, "late_s": [600, 1800]})
    start = emulator.state.clock.now()
    EmulatorControl(emulator).set_clock(start + timedelta(hours=20))
    emulator.backends.notifications.publish_due()
    tick = sensor_tick(queue.env, dg.DagsterInstance.ephemeral())
    sent = list(emulator.backends.notifications.published.sent)
    copies = [s for s in sent if s["copy"] and s["order_id"]]  # (a fee's message is landed, and batched never)
    assert copies and len(sent) > len(copies)
    cursor = json.loads(tick.cursor)
    assert cursor["duplicates"] == len(copies) and cursor["received"] == len(sent)
    store = LocalStore(queue.env["LANDING_DIR"])
    inbox = NotificationInbox(queue.sqs, queue.url, store, {})
    batched = [(a, o) for b in inbox.pending() for a, orders in b.orders.items() for o in orders]
    assert len(batched) == len(set(batched))
    assert {o for _, o in batched} == {s["order_id"] for s in sent if s["order_id"]}
    # The lost: exactly the transactions posted in those hours whose message the fault mix drew as lost.
    ledger, faults = emulator.backends.finances, emulator.backends.notifications.faults
    seed, until, published = emulator.state.seller.seed, start + timedelta(hours=19), {s["key"] for s in sent}
    regions = {"acme-us": {"ATVPDKIKX0DER"}, "acme-eu": {"A1PA6795UKMFR9", "A1F83G8C2ARO7P"}}
    posted = [p for a, marketplaces in regions.items() for p in ledger.posted_in(seller_of(a), start, until)
              if p.marketplace_id in marketplaces]
    lost = {p.transaction_id for p in posted if p.transaction_id not in published}
    assert lost and lost == {p.transaction_id for p in posted if is_lost(seed, faults, p.transaction_id, p.posted_at,
                                                                         KIND)}
