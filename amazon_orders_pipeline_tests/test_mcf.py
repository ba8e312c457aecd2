"""Multi-Channel Fulfillment end to end on the emulator: the web shop's order files, preview, createFulfillmentOrder
exactly once (under faults and SIGKILL), cancellation, tracking back to the shop, and the checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import requests

from amazon_orders_pipeline.testing import mcf_faults
from amazon_orders_pipeline.testing.conformance import validate
from amazon_orders_pipeline.testing.runs import materialize_transform, mcf, query, sweep
from amazon_orders_pipeline.writes.mcf.files import parse_orders, seller_fulfillment_order_id

from .spapi_models import load as load_model

REPO = Path(__file__).resolve().parents[1]


def shop_order(shop_id: str, *cart: tuple[str, int], method: str = "standard", country: str = "US") -> dict:
    return {"id": shop_id, "createdAt": "2026-11-27T09:30:00Z", "shippingMethod": method,
            "customer": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                         "phone": "+1 206 555 0100",
                         "addresses": [{"type": "billing", "street": "9 Bill Road", "postalCode": "10001",
                                        "city": "New York", "state": "NY", "country": "US"},
                                       {"type": "delivery", "street": "1 Main Street", "street2": "Apt 2",
                                        "postalCode": "98101", "city": "Seattle", "state": "WA",
                                        "country": country}]},
            "cart": [{"sku": sku, "name": sku.title(), "quantity": q,
                      "price": {"currency": "USD", "gross": 49.99, "net": 46.29}} for sku, q in cart]}


def drop(env: dict[str, str], name: str, lines: list[dict | bytes]) -> None:
    inbox = Path(env["MCF_INBOX_DIR"])
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n"
                                        for line in lines))


def creates(emulator) -> dict[str, int]:
    return requests.get(f"{emulator.url}/_emulator/fulfillment", timeout=10).json()["creates"]


def orders(env: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    return {r[0]: (r[1], r[2]) for r in query(env["DUCKDB_PATH"], "select shop_order_id, status, amazon_status "
                                                                  "from mcf.fulfillment_orders")}


def metadata(result) -> dict:
    return {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}


def checks(result) -> dict:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def test_storefront_lines_each_get_an_outcome_and_ids_are_amazon_safe():
    good = json.dumps(shop_order("1001", ("ECHO-DOT-5-CHARCOAL", 1))).encode()
    no_city = json.dumps({**shop_order("1002", ("ECHO-DOT-5-CHARCOAL", 1)), "customer": {
        **shop_order("x")["customer"], "addresses": [{"type": "delivery", "street": "1 Main", "postalCode": "1",
                                                       "country": "US"}]}}).encode()
    lines = [good, no_city, b'{"id": "1003", "cart": []}', b"\xff\xfe", b'{"type": "cancellation", "id": "1001"}',
             json.dumps(shop_order("1004", ("X", 300))).encode(), good[:40],
             json.dumps(shop_order("1005", *[(f"SKU-{n}", 1) for n in range(101)])).encode()]
    requests_, outcomes = parse_orders(b"\n".join(lines))
    by_line = {o.line_number: (o.outcome, o.reason) for o in outcomes}
    assert [n for n, (o, _) in by_line.items() if o == "accepted"] == [1, 5]
    assert by_line[2][1] == "the delivery address lacks city"
    assert by_line[3][1] == "the order has no customer"
    assert by_line[4][1].startswith("not UTF-8")
    assert "250 units" in by_line[6][1]
    assert by_line[7][1] == "not valid JSON"  # cut short, and not the file's last line
    assert "100 lines" in by_line[8][1]
    order = requests_[0]
    assert order.address["addressLine1"] == "1 Main Street" and order.address["city"] == "Seattle"  # delivery
    assert seller_fulfillment_order_id("1001") == "1001"
    long_id = seller_fulfillment_order_id("order #2026/11 for Ada Lovelace, thank you very much")
    assert len(long_id) <= 40 and long_id == seller_fulfillment_order_id(
        "order #2026/11 for Ada Lovelace, thank you very much")
    assert all(c.isalnum() or c in "-_" for c in long_id)
    assert "  " not in seller_fulfillment_order_id("A  B") and seller_fulfillment_order_id("A  B") != "A  B"


def test_shop_orders_are_fulfilled_once_tracked_to_the_shop_and_checked(pipeline_env, emulator, control):
    env = pipeline_env
    requests.post(f"{emulator.url}/_emulator/fulfillment", json={"inventory": {"KINDLE-PW-16GB": 0}}, timeout=10)
    drop(env, "shop-1.jsonl", [shop_order("A-1", ("ECHO-DOT-5-CHARCOAL", 2), ("USB-C-CABLE-2M", 1)),
                               shop_order("A-2", ("FIRE-TV-4K-MAX", 1), method="Express"),
                               shop_order("A-3", ("KINDLE-PW-16GB", 1)),  # none sellable: the preview says so
                               {"id": "A-4", "customer": {}},
                               shop_order("A-5", ("NO-SUCH-SKU", 1))])  # unknown to Amazon
    instance = dg.DagsterInstance.ephemeral()
    first = mcf(env, instance=instance)
    meta = metadata(first)
    assert (meta["submitted"], meta["refused"], meta["lines_invalid"]) == (2, 2, 1)
    assert creates(emulator) == {"A-1": 1, "A-2": 1}
    assert orders(env)["A-3"][0] == orders(env)["A-5"][0] == "refused"
    assert not checks(first)["no_refused_storefront_orders"].passed
    refused = checks(first)["no_refused_storefront_orders"].metadata["rows"].value
    assert "KINDLE-PW-16GB: InventoryUnavailable" in refused and "NO-SUCH-SKU: InvalidSku" in refused
    assert not checks(first)["no_invalid_storefront_lines"].passed
    model = load_model("fulfillmentOutbound_2020-07-01.json")
    bodies = dict(query(env["DUCKDB_PATH"], "select shop_order_id, request_body from mcf.fulfillment_orders"))
    for shop_id in ("A-1", "A-2"):
        validate(model, "CreateFulfillmentOrderRequest", json.loads(bodies[shop_id]))
    assert json.loads(bodies["A-2"])["shippingSpeedCategory"] == "Expedited"
    assert json.loads(bodies["A-1"])["items"][0]["perUnitDeclaredValue"] == {"currencyCode": "USD", "value": "49.99"}

    control.set_clock(emulator.state.clock.now() + timedelta(hours=5) / emulator.state.speed)
    second = mcf(env, instance=instance)
    # The shop's customers stay out of the run's logs and metadata (the warehouse keeps what Amazon needs).
    logged = json.dumps([(r.user_message, str(r.dagster_event)) for run in (first, second)
                         for r in instance.all_logs(run.run_id)])
    assert logged and not any(pii in logged for pii in ("Lovelace", "ada@example.com", "1 Main Street", "206 555"))
    assert {k: v for k, v in orders(env).items() if k in ("A-1", "A-2")} == {
        "A-1": ("submitted", "Complete"), "A-2": ("submitted", "Complete")}
    packages = query(env["DUCKDB_PATH"], "select seller_fulfillment_order_id, tracking_number, carrier_code "
                                         "from mcf.fulfillment_packages order by 1")
    assert [p[0] for p in packages] == ["A-1", "A-2"] and all(p[1].startswith("TBA") for p in packages)
    tracking = Path(env["EXPORT_DIR"]) / metadata(second)["tracking_file"]
    sent = [json.loads(line) for line in tracking.read_text().splitlines()]
    assert {s["shop_order_id"]: s["status"] for s in sent} == {"A-1": "Complete", "A-2": "Complete"}
    assert {s["packages"][0]["tracking_number"] for s in sent} == {p[1] for p in packages}
    assert metadata(second)["open_orders"] == 0 and creates(emulator) == {"A-1": 1, "A-2": 1}

    # Amazon's Orders API shows them as Amazon-fulfilled orders of the NON_AMAZON channel: the marts keep them,
    # the exports leave them out (the shop has booked those sales).
    control.set_clock(emulator.state.clock.now() + timedelta(minutes=10))  # past the window's end and index lag
    day = emulator.state.clock.now().date()
    assert sweep(env, day, ["acme-us"]).success and materialize_transform(env, day).success
    mcf_orders = query(env["DUCKDB_PATH"], "select order_id, order_status, fulfilled_by from orders "
                                           "where sales_channel = 'NON_AMAZON'")
    assert sorted(o[1:] for o in mcf_orders) == [("SHIPPED", "AMAZON")] * 2
    exported = "".join(p.read_text() for p in Path(env["EXPORT_DIR"]).rglob("*.csv"))
    assert exported and not any(order_id in exported for order_id, *_ in mcf_orders)


def test_a_cancellation_stops_a_received_order_and_is_reported_too_late_once_processing(
        pipeline_env, emulator, control):
    env = pipeline_env
    drop(env, "shop-2.jsonl", [shop_order("C-1", ("YOGA-MAT-6MM", 1)), shop_order("C-2", ("YOGA-MAT-6MM", 1))])
    assert mcf(env).success
    control.set_clock(emulator.state.clock.now() + timedelta(hours=3) / emulator.state.speed)  # Processing
    drop(env, "shop-2-cancel.jsonl", [{"type": "cancellation", "id": "C-2"}])
    result = mcf(env)
    assert orders(env)["C-2"][0] == "too_late"
    assert "too late to cancel" in checks(result)["no_refused_storefront_orders"].metadata["rows"].value
    drop(env, "shop-3.jsonl", [shop_order("C-3", ("YOGA-MAT-6MM", 1))])
    assert mcf(env).success
    drop(env, "shop-3-cancel.jsonl", [{"type": "cancellation", "id": "C-3"}, {"type": "cancellation", "id": "C-9"}])
    result = mcf(env)
    assert orders(env)["C-3"] == ("cancelled", "Cancelled")
    assert "unknown storefront order C-9" in checks(result)["no_invalid_storefront_lines"].metadata["rows"].value
    got = requests.get(f"{emulator.url}/_emulator/fulfillment", timeout=10).json()
    assert got["creates"] == {"C-1": 1, "C-2": 1, "C-3": 1}


def test_orders_stuck_at_amazon_and_unfulfillable_ones_are_reported(pipeline_env, emulator, control):
    env = pipeline_env
    requests.post(f"{emulator.url}/_emulator/fulfillment", json={"stranded": ["GARDEN-GLOVES-L"]}, timeout=10)
    # Amazon's clock two days behind ours: an order it received then is still Received, two days old.
    control.set_clock(emulator.state.clock.now() - timedelta(days=2))
    drop(env, "shop-4.jsonl", [shop_order("S-1", ("NOTEBOOK-A5-DOT", 1))])
    result = mcf(env)
    stuck = checks(result)["fba_orders_not_stuck"]
    assert not stuck.passed and "S-1" in stuck.metadata["rows"].value
    control.set_clock(emulator.state.clock.now() + timedelta(days=2))
    drop(env, "shop-5.jsonl", [shop_order("S-2", ("GARDEN-GLOVES-L", 1))])
    assert mcf(env).success  # the preview cannot see a stranded SKU; the order is sent
    control.set_clock(emulator.state.clock.now() + timedelta(hours=1) / emulator.state.speed)
    result = mcf(env)
    assert orders(env)["S-2"] == ("submitted", "Unfulfillable")
    assert "S-2" in checks(result)["no_invalid_or_unfulfillable"].metadata["rows"].value


def test_exactly_once_under_faults_and_after_a_kill_mid_flight(pipeline_env, emulator, control):
    env = pipeline_env
    ids = [f"F-{n}" for n in range(12)]
    drop(env, "faults.jsonl", [shop_order(i, ("LED-DESK-LAMP", 1)) for i in ids])
    control.faults(seed=3, throttle=0.1, server_error=0.1, drop=0.1, lost_response=0.25)
    try:
        for _ in range(6):
            mcf(env, raise_on_error=False)
            if all(s == "submitted" for s, _ in (orders(env).get(i, ("?", None)) for i in ids)):
                break
    finally:
        control.faults()
    assert all(orders(env)[i][0] == "submitted" for i in ids)
    assert {i: creates(emulator).get(i) for i in ids} == {i: 1 for i in ids}
    assert control.stats().get("createFulfillmentOrder.lost_response", 0) >= 1

    # A pass killed while it creates: the next one reads back what took effect and sends the rest once.
    killed = [f"K-{n}" for n in range(10)]
    drop(env, "kill.jsonl", [shop_order(i, ("WATER-BOTTLE-750", 1)) for i in killed])
    control.faults(slow=1.0, slow_seconds=0.2)
    before = control.stats().get("createFulfillmentOrder.calls", 0)
    proc = subprocess.Popen([sys.executable, "-m", "amazon_orders_pipeline", "mcf"], cwd=REPO,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while control.stats().get("createFulfillmentOrder.calls", 0) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    control.faults()
    assert {s for s, _ in (orders(env)[i] for i in killed)} & {"received", "submitting"}
    out = subprocess.run([sys.executable, "-m", "amazon_orders_pipeline", "mcf"], cwd=REPO, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert all(orders(env)[i][0] == "submitted" for i in killed)
    assert {i: creates(emulator).get(i) for i in killed} == {i: 1 for i in killed}


@pytest.mark.parametrize("files", [False, True])
def test_the_mcf_sensor_asks_for_a_run_when_files_wait(pipeline_env, tmp_path, files):
    from amazon_orders_pipeline.assets.mcf import mcf_job
    from amazon_orders_pipeline.sensors import build_mcf_sensor
    from amazon_orders_pipeline.testing.runs import fast_resources

    env = {**pipeline_env, "MCF_INBOX_DIR": str(tmp_path / "inbox")}
    if files:
        drop(env, "a.jsonl", [shop_order("Z-1", ("ECHO-DOT-5-CHARCOAL", 1))])
    sensor = build_mcf_sensor(mcf_job())
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance,
                                                resources={"mcf_inbox": fast_resources(env)["mcf_inbox"]}))
    assert isinstance(result, dg.SensorResult) == files


@pytest.mark.slow  # a fault campaign
def test_thirty_fault_seeds_create_each_fulfillment_order_exactly_once(tmp_path):
    """The campaign `python -m benchmarks.faults --campaign mcf` runs at any size: timeouts after the request
    reached the emulator, answers lost after it acted, 5xx, dropped connections, 429 storms, the same file twice."""
    out = mcf_faults.run_campaign(range(int(os.environ.get("MCF_FAULT_SEEDS", "30"))), tmp_path)
    assert out["failed_seeds"] == [] and out["created_twice"] == 0 and out["never_created"] == 0
    assert out["orders"] == out["seeds"] * 6
    assert out["faults_served"]["lost_response"] > 0 and out["faults_served"]["500"] > 0
