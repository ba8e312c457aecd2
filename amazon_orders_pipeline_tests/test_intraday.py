"""Today as a partition: sweeps that land only what changed since the last one, the index lag their settle time covers,
and the marts and exports of a day that is still going on."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.extract.increments import DayLog, Increment
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.runs import materialize_raw_range, materialize_transform, query, sweep
from amazon_orders_pipeline.testing.truth import orders_against_truth_by_sku

ACCOUNT = "acme-us"
US = "ATVPDKIKX0DER"


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def landed_metadata(result) -> dict:
    """The extract step's metadata of a run."""
    (event,) = [e for e in result.get_asset_materialization_events()
                if e.asset_key.path[-1] == "landed_order_pages"][:1]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def raw_versions(db: str, order_id: str) -> list[str]:
    """Each version of an order in the raw records, as its lastUpdatedTime, in load order."""
    rows = query(db, "select order_json from raw.order_records where order_json like ? "
                     "order by partition_date, page_number, record_index", [f'%"{order_id}"%'])
    return [json.loads(text)["lastUpdatedTime"] for (text,) in rows]


def salesforce_rows(env: dict[str, str], day: date) -> list[dict]:
    path = Path(env["EXPORT_DIR"]) / "salesforce" / ACCOUNT / day.isoformat() / "external_order_sync.csv"
    return list(csv.DictReader(io.StringIO(path.read_text())))


def erp_lines(env: dict[str, str], day: date, order_id: str) -> list[dict]:
    path = Path(env["EXPORT_DIR"]) / "erp" / ACCOUNT / day.isoformat() / "sales_order_lines.csv"
    return [r for r in csv.DictReader(io.StringIO(path.read_text())) if r["order_number"] == order_id]


def test_an_order_placed_and_shipped_today_reaches_the_marts_and_todays_exports_twice_without_duplicates(
        pipeline_env, emulator, control):
    """'Today' is a day on the emulator's clock: the pipeline takes the API's time from its Date header."""
    today = datetime.now(UTC).date() - timedelta(days=3)
    d0 = midnight(today)
    seller = emulator.state.seller

    def fits(o):  # placed after 01:00, unshipped a while later, shipped before 22:00, with several lines
        (t0, _), (t1, s1), *rest = o.events
        return (o.marketplace_id == US and o.fulfilled_by == "AMAZON" and len(o.lines) > 1 and s1 == "UNSHIPPED"
                and t0 >= d0 + timedelta(hours=1) and t1 - t0 > timedelta(minutes=20) and rest
                and rest[-1][1] == "SHIPPED" and rest[-1][0] < d0 + timedelta(hours=22))

    order = next(o for o in seller.orders_created_on(seller_key(emulator_refresh_token(ACCOUNT)), today) if fits(o))
    placed_at, shipped_at = order.events[0][0], order.events[-1][0]
    landing = LocalStore(pipeline_env["LANDING_DIR"])
    db = pipeline_env["DUCKDB_PATH"]

    control.set_clock(placed_at + timedelta(minutes=9))  # past the window's 2.5 minutes and any index lag
    assert sweep(pipeline_env, today, [ACCOUNT]).success
    assert materialize_transform(pipeline_env, today).success
    (status,) = query(db, "select order_status from orders where order_id = ?", [order.order_id])[0]
    assert status == "PENDING"
    assert [r["OrderStatus__c"] for r in salesforce_rows(pipeline_env, today)
            if r["ExternalId__c"].endswith(order.order_id)] == ["Pending"]
    (first,) = DayLog(landing, ACCOUNT, today).increments()
    assert first.kind == "window" and first.window_start == d0.strftime("%Y-%m-%dT%H:%M:%SZ")

    control.set_clock(shipped_at + timedelta(minutes=9))
    assert sweep(pipeline_env, today, [ACCOUNT]).success
    assert materialize_transform(pipeline_env, today).success
    increments = DayLog(landing, ACCOUNT, today).increments()
    assert [i.kind for i in increments] == ["window", "sweep"] and all(i.status == "loaded" for i in increments)
    # The sweep read only what changed since the first had settled: the first window ended 2.5 minutes before it
    # was fetched, the sweep starts 5 (the settle time) before, and ends 5 minutes before its own now.
    assert increments[1].window_start == (first.end - timedelta(minutes=2.5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert increments[1].end == (shipped_at + timedelta(minutes=4)).replace(microsecond=0)
    assert len(raw_versions(db, order.order_id)) == 2  # placed (first increment), shipped (the sweep)

    assert query(db, "select order_status, line_count from orders where order_id = ?", [order.order_id]) == [
        ("SHIPPED", len(order.lines))]
    assert query(db, "select count(*), count(distinct order_item_id) from order_items where order_id = ?",
                 [order.order_id]) == [(len(order.lines), len(order.lines))]
    assert [r["OrderStatus__c"] for r in salesforce_rows(pipeline_env, today)
            if r["ExternalId__c"].endswith(order.order_id)] == ["Shipped"]
    lines = erp_lines(pipeline_env, today, order.order_id)
    assert sorted(r["order_item_id"] for r in lines) == sorted(line.order_item_id for line in order.lines)
    assert {r["status"] for r in lines} == {"shipped"}
    # The day's raw pages: the first increment's, then the sweep's numbered after them.
    numbers = [n for (n,) in query(db, "select page_number from raw.order_pages where account_id = ? and "
                                       "partition_date = ? order by page_number", [ACCOUNT, today])]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("settle_minutes, overlap_minutes, caught", [(5, 0, True), (3, 0, False), (3, 2, True)])
def test_a_change_the_index_shows_late_is_caught_by_the_settle_time_or_the_overlap(
        pipeline_env, emulator, control, settle_minutes, overlap_minutes, caught):
    """A change the search index shows more than 200 s late: with a settle time longer than the lag, the sweep
    that could have missed it does not search its minute yet, and the next one finds it; with a shorter one it is
    missed, unless the next sweep re-reads the minutes before its start (the overlap)."""
    day = datetime.now(UTC).date() - timedelta(days=4)
    state, seller = emulator.state, emulator.state.seller
    key = seller_key(emulator_refresh_token(ACCOUNT))
    late = next((o, ts) for o in seller.orders_created_on(key, day) for ts, _ in o.events[1:]
                if o.marketplace_id == US and ts.date() == day and ts.hour < 20
                and state.index_lag(o, ts) > timedelta(seconds=200))
    order, changed_at = late
    env = {**pipeline_env, "SWEEP_SETTLE_MINUTES": str(settle_minutes), "SWEEP_OVERLAP_MINUTES": str(overlap_minutes)}

    # A first landing of the day, then a sweep after the change's time but before the index shows it.
    control.set_clock(changed_at - timedelta(minutes=30))
    assert sweep(env, day, [ACCOUNT]).success
    control.set_clock(changed_at + timedelta(seconds=190))  # a 3-minute settle: the window ends 10 s after it
    assert sweep(env, day, [ACCOUNT]).success
    changed = changed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert changed not in raw_versions(env["DUCKDB_PATH"], order.order_id)

    control.set_clock(changed_at + timedelta(minutes=15))  # the next round
    assert sweep(env, day, [ACCOUNT]).success
    assert (changed in raw_versions(env["DUCKDB_PATH"], order.order_id)) is caught


def test_sweeps_a_backfill_the_close_and_the_recheck_interleave_to_the_truth(pipeline_env, emulator, control):
    """A day swept twice, then backfilled page by page, then closed (nothing left to sweep), the two days before it
    re-checked through an order report, and the next day's first sweep: the marts equal the truth."""
    day = datetime.now(UTC).date() - timedelta(days=3)
    d0 = midnight(day)
    landing, db = LocalStore(pipeline_env["LANDING_DIR"]), pipeline_env["DUCKDB_PATH"]
    for at in (d0 + timedelta(hours=12), d0 + timedelta(hours=20)):
        control.set_clock(at)
        assert sweep(pipeline_env, day, [ACCOUNT]).success
    control.set_clock(d0 + timedelta(days=1, minutes=25))
    backfill = materialize_raw_range(pipeline_env, day - timedelta(days=2), day, [ACCOUNT])
    assert backfill.success
    (window,) = DayLog(landing, ACCOUNT, day).increments()  # the backfill's window replaced the day's sweeps
    assert window.kind == "window" and window.end == d0 + timedelta(days=1)

    close = sweep(pipeline_env, day, [ACCOUNT])
    assert close.success and landed_metadata(close)["days_closed_before"] == 1  # the backfill closed it
    recheck = sweep(pipeline_env, day - timedelta(days=1), [ACCOUNT], mode="recheck", first=day - timedelta(days=2))
    assert recheck.success and landed_metadata(recheck)["days_through_reports"] == 2
    assert emulator.state.stats["createReport.calls"] == 1
    assert sweep(pipeline_env, day + timedelta(days=1), [ACCOUNT]).success  # the next day's first sweep

    assert materialize_transform(pipeline_env, day - timedelta(days=2), day + timedelta(days=1)).success
    got, want = orders_against_truth_by_sku(db, control, ACCOUNT, d0 - timedelta(days=2), d0 + timedelta(days=1),
                                            [US])
    assert got == want and len(want["orders"]) > 100
    reports = query(db, "select count(*) from raw.order_records where account_id = ? and api_version = 'report'",
                    [ACCOUNT])[0][0]
    assert reports > 0
    (today_orders,) = query(db, "select count(*) from orders where account_id = ? and last_changed_partition = ?",
                            [ACCOUNT, day + timedelta(days=1)])[0]
    assert today_orders > 0


def test_a_window_replaces_the_days_sweeps_but_not_what_get_order_read(tmp_path):
    """getOrder reads the order itself, so its versions may be newer than what a later window's search showed:
    after a window replaces the day, the day's getOrder increments are added again; sweeps before it are not."""
    log = DayLog(LocalStore(tmp_path), ACCOUNT, date(2026, 11, 20))

    def add(attempt: str, kind: str, at: str, status: str = "loaded") -> None:
        log.add(Increment(attempt, kind, "2026-11-20T00:00:00Z", "2026-11-20T06:00:00Z", 1, status,
                          f"2026-11-20T{at}+00:00"))

    add("w1", "window", "01:00:00")
    add("o1", "orders", "02:00:00")
    add("s1", "sweep", "03:00:00")
    assert log.to_load() == []  # everything is loaded
    add("w2", "window", "04:00:00", "fetched")  # a manual re-materialization
    add("s2", "sweep", "05:00:00", "fetched")
    assert [(i.attempt_id, replace) for i, replace in log.to_load()] == [
        ("w2", True), ("o1", False), ("s2", False)]
    assert log.settled_until() == datetime(2026, 11, 20, 6, tzinfo=UTC)


def test_a_days_loaded_increments_fold_into_one_index_and_read_the_same(tmp_path):
    """Thousands of notification batches make thousands of increment files a day: once enough are loaded, the load
    folds them into an index file. The day reads the same before and after, a second fold replaces the first
    index, and an increment loaded again after a window (its file written anew) is still one increment."""
    store = LocalStore(tmp_path)
    log = DayLog(store, ACCOUNT, date(2026, 11, 20))

    def add(n: int, kind: str, status: str) -> Increment:
        at = f"2026-11-20T{n // 60:02d}:{n % 60:02d}:00"
        return log.add(Increment(f"a{n:03d}", kind, "2026-11-20T00:00:00Z", f"{at}Z", 1, status, f"{at}+00:00"))

    add(0, "window", "loaded")
    for n in range(1, 40):
        add(n, "orders" if n % 2 else "sweep", "loaded")
    add(40, "sweep", "fetched")
    files = lambda: store.keys(log.prefix)  # noqa: E731
    before = (log.increments(), log.to_load(), log.settled_until())
    assert log.fold(at_least=50) == 0 and len(files()) == 41  # too few to fold
    assert log.fold() == 40
    assert len(files()) == 2 and any("/index-" in k for k in files())  # the index and the unloaded sweep
    assert (log.increments(), log.to_load(), log.settled_until()) == before

    for n in range(41, 75):
        add(n, "orders", "loaded")
    log.mark_loaded(before[0][0])  # the window loaded again: its file is written anew beside the index
    assert len(log.increments()) == 75
    assert log.fold() == 35
    (index,) = [k for k in files() if "/index-" in k]
    assert len(files()) == 2 and len(json.loads(store.get(index))["increments"]) == 74
    assert [i.attempt_id for i in log.increments()] == [f"a{n:03d}" for n in range(75)]
    assert [i.attempt_id for i, _ in log.to_load()] == ["a040"]


def test_a_sweep_round_skips_an_account_whose_quota_another_run_spent_and_sweeps_it_once_refilled(
        pipeline_env, emulator, control):
    """Amazon's searchOrders bucket is the seller's: a run that spent it (a backfill page by page) leaves its level
    in the landing area, and the next round skips that account instead of waiting on it, sweeping the others."""
    from amazon_orders_pipeline.extract.quota import QuotaLedger
    from amazon_orders_pipeline.stores import put_json

    day = datetime.now(UTC).date() - timedelta(days=3)
    at = midnight(day) + timedelta(hours=12)
    control.set_clock(at)
    landing = LocalStore(pipeline_env["LANDING_DIR"])
    # As a client paced at Amazon's own rate (one page per 180 s) leaves it when its burst is gone.
    put_json(landing, QuotaLedger(landing, ACCOUNT).key,
             {"tokens": 0.0, "rate": 0.0056, "burst": 20, "at": at.isoformat()})
    result = sweep(pipeline_env, day, [ACCOUNT, "acme-eu"])
    meta = landed_metadata(result)
    assert meta["accounts_skipped_for_quota"] == 1 and meta["sweeps"] == 0
    assert DayLog(landing, ACCOUNT, day).increments() == [] and DayLog(landing, "acme-eu", day).increments()

    control.set_clock(at + timedelta(minutes=4))  # 240 s at 0.0056/s: a page's worth is back
    meta = landed_metadata(sweep(pipeline_env, day, [ACCOUNT, "acme-eu"]))
    assert meta["accounts_skipped_for_quota"] == 0
    assert [i.kind for i in DayLog(landing, ACCOUNT, day).increments()] == ["window"]
    # The extraction left the level it ended with, on the API's clock, for the next round.
    record = json.loads(landing.get(QuotaLedger(landing, ACCOUNT).key))
    assert record["burst"] == 20 and record["rate"] > 0.0056 and record["at"] > at.isoformat()
