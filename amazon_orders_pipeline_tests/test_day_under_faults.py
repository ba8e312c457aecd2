"""A simulated day of sweeps and ORDER_CHANGE notifications, with the search index lagging, API faults (429, 5xx,
dropped connections) and notification faults (lost, duplicated, late; out of order by their random delays), ends
with marts equal to the ground truth: one account per seed, 30 seeds, one transform over all of them."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
import yaml

from amazon_orders_pipeline.accounts import load_accounts
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.faults import FaultPlan
from amazon_orders_pipeline.emulator.publishing import NotificationFaults
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.testing.env import emulator_env
from amazon_orders_pipeline.testing.freshness import simulate_day
from amazon_orders_pipeline.testing.notifications import OrderQueue
from amazon_orders_pipeline.testing.runs import materialize_transform
from amazon_orders_pipeline.testing.truth import marts_and_truth

# A fault campaign: in the full suite, not the quick lane.
pytestmark = pytest.mark.slow
# 30 in CI; a developer may run fewer while working (DAY_FAULT_SEEDS=3).
SEEDS = range(int(os.environ.get("DAY_FAULT_SEEDS", "30")))
US = "ATVPDKIKX0DER"
API_FAULTS = {"throttle": 0.05, "server_error": 0.03, "unavailable": 0.02, "drop": 0.02}
NOTIFICATION_FAULTS = {"lost": 0.1, "duplicated": 0.15, "late": 0.1}


@pytest.fixture(scope="module")
def days(tmp_path_factory, moto_server_module):
    tmp = tmp_path_factory.mktemp("faulty_days")
    accounts_file = tmp / "accounts.yaml"
    accounts_file.write_text(yaml.safe_dump({"accounts": [
        {"id": f"seed-{s:02d}", "region": "NA", "marketplace_ids": [US]} for s in SEEDS]}))
    accounts = {a.id: a for a in load_accounts(accounts_file)}
    day = datetime.now(UTC).date() - timedelta(days=3)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    outcomes = {}
    for seed in SEEDS:
        account = accounts[f"seed-{seed:02d}"]
        with Emulator(speed=5000, seed=seed, orders_per_day=40) as emulator:
            env = emulator_env(emulator.url, tmp, accounts_file, day.isoformat())
            queue = OrderQueue.create(moto_server_module, emulator, env, name=f"order-change-{seed}")
            emulator.state.clock.set(start)
            queue.subscribe_accounts([account.id])
            emulator.state.faults.configure(FaultPlan.from_dict({**API_FAULTS, "seed": seed}))
            emulator.backends.notifications.faults = NotificationFaults.from_dict(NOTIFICATION_FAULTS)
            (result,) = simulate_day(emulator, [account], day, env["LANDING_DIR"], env["DUCKDB_PATH"],
                                  sweep_every=timedelta(hours=2), step=timedelta(hours=2), queue=queue)
            notes = emulator.backends.notifications
            sent = notes.published.sent
            outcomes[seed] = (result, emulator.state.stats.copy(), {
                "sent": len(sent), "copies": sum(m["copy"] for m in sent),
                "late": sum(m["publish_time"] - m["changed_at"] > timedelta(minutes=10) for m in sent),
                "lost": sum(len(notes.lost(h)) for h in emulator.state.seller.candidates(
                    seller_key(emulator_refresh_token(account.id)), start, start + timedelta(days=1)))})
    assert materialize_transform(env, day).success
    return env, outcomes


@pytest.mark.parametrize("seed", SEEDS)
def test_the_marts_equal_the_truth_after_a_faulty_day(days, seed):
    env, outcomes = days
    result, stats, published = outcomes[seed]
    assert result.sweeps >= 12 and result.batches > 0 and published["sent"] > 0
    assert result.lost() == 0
    truth, moved = result.truth
    assert truth
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        got, want = marts_and_truth(conn, result.account_id, truth, moved)
        duplicated = conn.execute("select count(*) - count(distinct order_id) from orders where account_id = ?",
                                  [result.account_id]).fetchone()[0]
    assert sorted(got) == sorted(want)
    assert duplicated == 0


def test_the_faults_happened(days):
    """The campaign is not vacuous: across the seeds, every kind of fault was met."""
    _, outcomes = days
    total = {}
    for _, stats, _ in outcomes.values():
        for key, value in stats.items():
            total[key] = total.get(key, 0) + value
    assert total.get("searchOrders.429", 0) + total.get("getOrder.429", 0) > 0
    assert total.get("searchOrders.500", 0) + total.get("getOrder.500", 0) > 0
    assert total.get("searchOrders.dropped", 0) + total.get("getOrder.dropped", 0) > 0
    for kind in ("copies", "late", "lost"):
        assert sum(p[kind] for _, _, p in outcomes.values()) > 0, kind
