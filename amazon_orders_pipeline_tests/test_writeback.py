"""The write-back of merchant-fulfilled orders, end to end on the emulator: the ERP's files in the inbox, the guard
against the marts, confirmShipment and the order acknowledgement feed, and the next extraction closing the loop.

One emulator and one warehouse serve the module (a day extracted and transformed once); each test takes orders of
its own from the day."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from amazon_orders_pipeline.assets.writeback import build_writeback
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.orders import OrderHistory
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.sensors import build_writeback_sensor
from amazon_orders_pipeline.sp_api.feeds import FeedsClient
from amazon_orders_pipeline.testing.conformance import validate
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.env import emulator_env
from amazon_orders_pipeline.testing.runs import fast_resources, materialize_transform, query, sweep, writeback
from amazon_orders_pipeline.writes.mfn import ack_feed, ledger
from amazon_orders_pipeline.writes.mfn.files import package_reference_id
from amazon_orders_pipeline.writes.mfn.run import Outcome

from .spapi_models import load as load_model

ACCOUNT = "shop-us"
US = "ATVPDKIKX0DER"
REPO = Path(__file__).resolve().parents[1]


class Scene:
    """A day of one US seller, extracted and transformed up to `at` (18:00), and its orders by what they are then."""

    def __init__(self, emulator: Emulator, env: dict[str, str]):
        self.emulator, self.env = emulator, env
        self.control = EmulatorControl(emulator)
        self.day = datetime.now(UTC).date() - timedelta(days=3)
        self.at = datetime(self.day.year, self.day.month, self.day.day, 18, tzinfo=UTC)
        self.db = env["DUCKDB_PATH"]
        self.inbox = Path(env["WRITEBACK_INBOX_DIR"])
        self._taken: set[str] = set()

    def orders(self) -> list[OrderHistory]:
        """The seller's US orders last changed in the day's window before `at`: those the marts have."""
        key = seller_key(emulator_refresh_token(ACCOUNT))
        start = self.at.replace(hour=0)
        return [o for o in self.emulator.state.seller.candidates(key, start, self.at)
                if o.marketplace_id == US and (s := o.state_as_of(self.at)) and s[0] >= start]

    def take(self, n: int, fulfilled_by: str = "MERCHANT", status: str = "UNSHIPPED", lines: int = 1
             ) -> list[OrderHistory]:
        """Orders nobody took yet that the marts show in `status` (last changed at least 10 minutes before `at`,
        and not changing again within 6 hours of it), with at least `lines` lines."""
        found = []
        for o in self.orders():
            state = o.state_as_of(self.at)
            later = [ts for ts, _ in o.events if ts > self.at]
            if (o.order_id not in self._taken and o.fulfilled_by == fulfilled_by and state and state[1] == status
                    and state[0] < self.at - timedelta(minutes=10) and len(o.lines) >= lines
                    and (not later or later[0] > self.at + timedelta(hours=6))):
                found.append(o)
                self._taken.add(o.order_id)
            if len(found) == n:
                return found
        raise AssertionError(f"the day has fewer than {n} {fulfilled_by} {status} orders left")

    def drop(self, name: str, lines: list[dict]) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        (self.inbox / name).write_text("".join(json.dumps(line) + "\n" for line in lines))

    def requests(self, order_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """request_id -> (status, reason) of the orders' requests."""
        rows = query(self.db, "select request_id, status, reason from writeback.requests where order_id in "
                              "(select unnest(?::varchar[]))", [order_ids])
        return {r[0]: (r[1], r[2]) for r in rows}

    def extract(self, at: datetime) -> None:
        """The day swept again at `at`, and transformed: the next extraction."""
        self.control.set_clock(at)
        assert sweep(self.env, self.day, [ACCOUNT]).success
        assert materialize_transform(self.env, self.day).success


def whole_shipment(order: OrderHistory, tracking: str, ship_date: str) -> dict:
    return {"type": "shipment", "amazon_order_id": order.order_id, "carrier": "FedEx", "tracking_number": tracking,
            "ship_date": ship_date,
            "lines": [{"order_item_id": line.order_item_id, "quantity": line.quantity} for line in order.lines]}


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Iterator[Scene]:
    workdir = tmp_path_factory.mktemp("writeback")
    accounts = workdir / "accounts.yaml"
    accounts.write_text(f"accounts:\n  - id: {ACCOUNT}\n    region: NA\n    marketplace_ids: [{US}]\n")
    with Emulator(speed=2000, seed=11, orders_per_day=500, index_lag_s=0) as emulator:
        env = emulator_env(emulator.url, workdir, accounts)
        s = Scene(emulator, env)
        s.extract(s.at)
        yield s


def ship_date(scene: Scene) -> str:
    return (scene.at - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_guard_refuses_afn_unknown_shipped_and_over_quantity_without_calling_amazon(scene):
    scene.control.set_clock(scene.at)
    afn, = scene.take(1, fulfilled_by="AMAZON", status="UNSHIPPED")
    shipped, = scene.take(1, status="SHIPPED")
    open_order, = scene.take(1)
    unknown = "114-0000000-0000001"
    date = ship_date(scene)
    lines = [whole_shipment(afn, "AFN-1", date), whole_shipment(shipped, "SHIPPED-1", date),
             whole_shipment(open_order, "OVER-1", date) | {"lines": [{
                 "order_item_id": open_order.lines[0].order_item_id, "quantity": open_order.lines[0].quantity + 1}]},
             {**whole_shipment(open_order, "UNKNOWN-1", date), "amazon_order_id": unknown},
             {"type": "cancellation", "amazon_order_id": afn.order_id},
             {"type": "cancellation", "amazon_order_id": shipped.order_id}]
    before = scene.control.stats()
    scene.drop("guard.jsonl", lines)
    result = writeback(scene.env)
    after = scene.control.stats()
    # Amazon was not called: no confirmShipment, no feed.
    for op in ("confirmShipment.calls", "createFeedDocument.calls", "createFeed.calls"):
        assert after.get(op, 0) == before.get(op, 0), op
    got = scene.requests([afn.order_id, shipped.order_id, open_order.order_id, unknown])
    assert {k: v[0] for k, v in got.items()} == {k: "refused" for k in got} and len(got) == 6
    reason = {k.split(":")[0] + ":" + k.split(":")[1]: v[1] for k, v in got.items()}
    assert "fulfilled by Amazon (AFN)" in reason[f"shipment:{afn.order_id}"]
    assert "fulfilled by Amazon (AFN)" in reason[f"cancellation:{afn.order_id}"]
    assert reason[f"shipment:{shipped.order_id}"] == f"order {shipped.order_id} is already shipped"
    assert "has shipped items" in reason[f"cancellation:{shipped.order_id}"]
    assert "not yet shipped" in reason[f"shipment:{open_order.order_id}"]
    assert f"quantity {open_order.lines[0].quantity + 1} of order item" in reason[f"shipment:{open_order.order_id}"]
    assert reason[f"shipment:{unknown}"].startswith(f"unknown order {unknown}: it is not in the marts")
    # ... and listed in the run's check, with the reasons.
    (refused,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "no_refused_requests"]
    assert not refused.passed and refused.metadata["count"].value == 6
    assert "is already shipped" in refused.metadata["rows"].value
    assert not (scene.inbox / "guard.jsonl").exists() and (scene.inbox / "processed" / "guard.jsonl").exists()


def test_shipments_and_a_cancellation_reach_amazon_and_the_next_extraction_shows_them_done(scene):
    scene.control.set_clock(scene.at)
    whole, partly, by_sku, cancelled = scene.take(1) + scene.take(1, lines=2) + scene.take(1) + scene.take(1)
    date = ship_date(scene)
    scene.drop("erp-1.jsonl", [
        whole_shipment(whole, "W-1", date),
        {**whole_shipment(partly, "P-1", date), "lines": [{"order_item_id": partly.lines[0].order_item_id,
                                                           "quantity": partly.lines[0].quantity}]},
        {**whole_shipment(by_sku, "S-1", date), "lines": [{"sku": line.sku, "quantity": line.quantity}
                                                          for line in by_sku.lines]},
        {"type": "cancellation", "amazon_order_id": cancelled.order_id, "reason": "NoInventory"},
        {**whole_shipment(whole, "W-2", date), "carrier": "Carrier Pigeon"},  # a bad line holds back no other
    ])
    result = writeback(scene.env)
    assert result.success
    metadata = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert metadata["shipments_sent"] == 3 and metadata["feeds"] == 1 and metadata["cancellations_accepted"] == 1
    assert (metadata["lines_accepted"], metadata["lines_invalid"]) == (4, 1)
    (invalid,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "no_invalid_inbox_lines"]
    assert not invalid.passed and "unknown carrier 'Carrier Pigeon'" in invalid.metadata["rows"].value
    ids = [whole.order_id, partly.order_id, by_sku.order_id, cancelled.order_id]
    assert sorted(s for s, _ in scene.requests(ids).values()) == ["accepted", "sent", "sent", "sent"]
    merchant = scene.control.merchant()
    assert merchant["created"][f"{whole.order_id}/{package_reference_id(whole.order_id, 'W-1')}"] == 1
    assert merchant["cancelled"] == {cancelled.order_id: 1}
    # What went to Amazon is the model's ConfirmShipmentRequest; a SKU became its order item.
    model = load_model("ordersV0.json")
    for (body,) in query(scene.db, "select request_body from writeback.requests where kind = 'shipment' and "
                                   "order_id in (select unnest(?::varchar[]))", [ids]):
        validate(model, "ConfirmShipmentRequest", json.loads(body))
    (by_sku_body,) = query(scene.db, "select request_body from writeback.requests where order_id = ?",
                           [by_sku.order_id])[0]
    assert {i["orderItemId"] for i in json.loads(by_sku_body)["packageDetail"]["orderItems"]} == {
        line.order_item_id for line in by_sku.lines}

    # The next extraction: the marts and the exports show them shipped and cancelled, and the loop closes.
    scene.extract(scene.at + timedelta(minutes=10))
    statuses = dict(query(scene.db, "select order_id, order_status from orders where order_id in "
                                    "(select unnest(?::varchar[]))", [ids]))
    assert statuses == {whole.order_id: "SHIPPED", partly.order_id: "PARTIALLY_SHIPPED",
                        by_sku.order_id: "SHIPPED", cancelled.order_id: "CANCELLED"}
    assert query(scene.db, "select quantity_fulfilled from order_items where order_id = ? and order_item_id = ?",
                 [partly.order_id, partly.lines[1].order_item_id]) == [(0,)]
    # Each confirmed package arrived in order_packages with its carrier and tracking number (what closes the loop).
    packages = query(scene.db, "select order_id, package_reference_id, carrier, tracking_number, package_status "
                               "from order_packages where order_id = ?", [whole.order_id])
    assert packages == [(whole.order_id, package_reference_id(whole.order_id, "W-1"), "FedEx", "W-1", "SHIPPED")]
    assert query(scene.db, "select sum(quantity) from order_package_items where order_id = ?",
                 [whole.order_id]) == [(sum(line.quantity for line in whole.lines),)]
    export = Path(scene.env["EXPORT_DIR"]) / "salesforce" / ACCOUNT / scene.day.isoformat() / "external_order_sync.csv"
    exported = {r["ExternalId__c"]: r["OrderStatus__c"] for r in csv.DictReader(io.StringIO(export.read_text()))}
    assert [v for k, v in exported.items() if k.endswith(whole.order_id)] == ["Shipped"]
    assert [v for k, v in exported.items() if k.endswith(cancelled.order_id)] == ["Cancelled"]
    assert [v for k, v in exported.items() if k.endswith(partly.order_id)] == ["Partially Shipped"]
    result = writeback(scene.env)
    assert sorted(s for s, _ in scene.requests(ids).values()) == ["confirmed"] * 4
    (loop,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "loop_closed"]
    assert loop.passed


def test_the_same_file_again_sends_nothing_twice_and_a_refused_request_sent_again_is_retried(scene):
    scene.control.set_clock(scene.at)
    order, = scene.take(1)
    line = whole_shipment(order, "AGAIN-1", ship_date(scene))
    scene.drop("again-1.jsonl", [line])
    assert writeback(scene.env).success
    scene.drop("again-2.jsonl", [line, {**line, "carrier": "DHL"}])  # the same package, then with other details
    assert writeback(scene.env).success
    outcomes = query(scene.db, "select file_key, line_number, outcome, reason from writeback.inbox_lines "
                               "where file_key like 'again-%' order by 1, 2")
    assert [o[2] for o in outcomes] == ["accepted", "duplicate", "invalid"]
    assert "with other details" in outcomes[2][3]
    package = f"{order.order_id}/{package_reference_id(order.order_id, 'AGAIN-1')}"
    assert scene.control.merchant()["created"][package] == 1 and package not in scene.control.merchant()["edited"]


def test_exactly_once_under_faults_no_package_confirmed_twice_and_no_cancellation_lost(scene):
    scene.control.set_clock(scene.at)
    to_ship, to_cancel = scene.take(12), scene.take(6)
    date = ship_date(scene)
    scene.drop("faults.jsonl", [whole_shipment(o, f"F-{o.order_id}", date) for o in to_ship]
               + [{"type": "cancellation", "amazon_order_id": o.order_id} for o in to_cancel])
    before = scene.control.stats()
    scene.control.faults(seed=5, throttle=0.1, server_error=0.1, unavailable=0.05, drop=0.1, lost_response=0.2)
    try:
        for _ in range(8):  # passes, as the sensor would ask for them, until nothing is on its way
            writeback(scene.env, raise_on_error=False)
            statuses = {s for s, _ in scene.requests([o.order_id for o in to_ship + to_cancel]).values()}
            if statuses <= {"sent", "accepted", "failed", "rejected"}:
                break
    finally:
        scene.control.faults()
    got = scene.requests([o.order_id for o in to_ship + to_cancel])
    assert sorted(s for s, _ in got.values()) == ["accepted"] * 6 + ["sent"] * 12, got
    merchant = scene.control.merchant()
    for o in to_ship:
        assert merchant["created"][f"{o.order_id}/{package_reference_id(o.order_id, f'F-{o.order_id}')}"] == 1
        assert sum(1 for k in merchant["created"] if k.startswith(o.order_id)) == 1
    assert {o.order_id: merchant["cancelled"].get(o.order_id) for o in to_cancel} == {o.order_id: 1 for o in to_cancel}
    stats = scene.control.stats()
    delta = {k: stats.get(k, 0) - before.get(k, 0) for k in stats}
    # Amazon's answers were lost after it acted, for packages and for the feed; still one feed took effect.
    assert delta["confirmShipment.lost_response"] >= 1 and delta["createFeed.lost_response"] >= 1
    assert delta["createFeed.202"] == 1 and delta["createFeed.calls"] > 1


def test_a_writeback_killed_mid_flight_resumes_without_sending_anything_twice(scene):
    scene.control.set_clock(scene.at)
    to_ship, to_cancel = scene.take(10), scene.take(4)
    date = ship_date(scene)
    scene.drop("kill.jsonl", [whole_shipment(o, f"K-{o.order_id}", date) for o in to_ship]
               + [{"type": "cancellation", "amazon_order_id": o.order_id} for o in to_cancel])
    env = {**os.environ, **scene.env}
    # Slow answers, so the kill lands mid-flight: after a few confirmations, while more are on their way.
    scene.control.faults(slow=1.0, slow_seconds=0.2)
    before = scene.control.stats().get("confirmShipment.calls", 0)
    proc = subprocess.Popen([sys.executable, "-m", "amazon_orders_pipeline", "writeback"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while scene.control.stats().get("confirmShipment.calls", 0) < before + 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    scene.control.faults()
    statuses = {s for s, _ in scene.requests([o.order_id for o in to_ship + to_cancel]).values()}
    assert "sending" in statuses  # it died with shipments on their way
    out = subprocess.run([sys.executable, "-m", "amazon_orders_pipeline", "writeback"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    got = scene.requests([o.order_id for o in to_ship + to_cancel])
    assert sorted(s for s, _ in got.values()) == ["accepted"] * 4 + ["sent"] * 10, got
    merchant = scene.control.merchant()
    for o in to_ship:
        assert sum(n for k, n in merchant["created"].items() if k.startswith(o.order_id)) == 1
    assert {o.order_id: merchant["cancelled"].get(o.order_id) for o in to_cancel} == {o.order_id: 1 for o in to_cancel}


def test_the_sensor_asks_for_a_run_while_files_wait_or_requests_are_on_their_way(scene, tmp_path):
    env = {**scene.env, "WRITEBACK_INBOX_DIR": str(tmp_path / "inbox")}
    sensor = build_writeback_sensor(dg.define_asset_job("writeback", selection=["mfn_writeback"]))
    resources = {"writeback_inbox": fast_resources(env)["writeback_inbox"]}
    with dg.instance_for_test() as instance:
        def tick():
            return sensor(dg.build_sensor_context(instance=instance, resources=resources))

        assert isinstance(tick(), dg.SkipReason)
        (tmp_path / "inbox").mkdir()
        (tmp_path / "inbox" / ".partial.jsonl").write_text("{")  # a writer's temporary file: not yet
        assert isinstance(tick(), dg.SkipReason)
        (tmp_path / "inbox" / "a.jsonl").write_text("{}\n")
        requested = tick()
        assert len(requested.run_requests) == 1


def test_the_inbox_may_be_an_s3_prefix(scene, moto_s3):
    endpoint, s3 = moto_s3
    scene.control.set_clock(scene.at)
    order, = scene.take(1)
    env = {**scene.env, "WRITEBACK_INBOX_S3_URI": "s3://landing/erp/outbound",
           "WRITEBACK_INBOX_S3_ENDPOINT_URL": endpoint}
    line = whole_shipment(order, "S3-1", ship_date(scene))
    s3.put_object(Bucket="landing", Key="erp/outbound/2026/s3.jsonl", Body=(json.dumps(line) + "\n").encode())
    assert writeback(env).success
    assert [s for s, _ in scene.requests([order.order_id]).values()] == ["sent"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="landing", Prefix="erp/outbound/")["Contents"]]
    assert keys == ["erp/outbound/processed/2026/s3.jsonl"]


def test_a_run_that_died_after_create_feed_is_read_back_and_the_feed_not_made_again(scene):
    """The narrowest window: createFeed took effect, and the run died before recording the feed id."""
    scene.control.set_clock(scene.at)
    orders = scene.take(2)
    scene.drop("dead.jsonl", [{"type": "cancellation", "amazon_order_id": o.order_id} for o in orders])
    resources = fast_resources(scene.env)
    log = logging.getLogger("test")
    dead = build_writeback(resources["sp_api"], resources["duckdb"], resources["writeback_inbox"], log)
    with dead.connect() as conn:
        ledger.ensure(conn)
    dead.take_inbox(Outcome())
    dead.guard(Outcome())
    # What submit_cancellations does up to createFeed, and createFeed itself; then nothing is recorded.
    feeds = FeedsClient(dead._client(ACCOUNT), sleep=lambda s: None)
    with dead.connect() as conn:
        queued = ledger.rows(conn, "status_orders", "queued", [o.order_id for o in orders])
    content = ack_feed.document("SELLER", [
        ack_feed.Cancellation(n, r["order_id"], json.loads(r["request_body"])["items"], "NoInventory")
        for n, r in enumerate(queued, start=1)])
    document_id = feeds.upload(content, ack_feed.CONTENT_TYPE)
    started = feeds.client.now()
    with dead.connect() as conn:
        ledger.update(conn, [(r["request_id"], {
            "status": "submitting", "feed_document_id": document_id, "submit_started_at": started,
            "request_body": {**json.loads(r["request_body"]), "message_id": n}})
            for n, r in enumerate(queued, start=1)], started)
    made = feeds.submit(ack_feed.FEED_TYPE, [US], document_id, started, known=set())
    before = scene.control.stats().get("createFeed.calls", 0)

    result = writeback(scene.env)
    metadata = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert metadata["feeds_read_back"] == 1
    assert scene.control.stats().get("createFeed.calls", 0) == before  # not made again
    got = query(scene.db, "select status, feed_id from writeback.requests where order_id in "
                          "(select unnest(?::varchar[]))", [[o.order_id for o in orders]])
    assert got == [("accepted", made.feed_id)] * 2
    assert {o.order_id: scene.control.merchant()["cancelled"].get(o.order_id) for o in orders} == {
        o.order_id: 1 for o in orders}
