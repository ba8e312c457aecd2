"""History through order tracking reports: two months of two accounts into the marts, against the ground truth and
against the same days through searchOrders; resume without asking twice; quarantine; PII; encodings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.extract.order_reports import (
    ReportStore,
    extract_history,
    record_texts,
    report_records,
    report_windows,
)
from amazon_orders_pipeline.history import backfill_history
from amazon_orders_pipeline.sp_api.reports import BY_LAST_UPDATE, Polling, ReportsClient
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS, emulator_env
from amazon_orders_pipeline.testing.runs import fast_resources, materialize_raw, materialize_transform, query
from amazon_orders_pipeline.testing.truth import orders_against_truth_by_sku
from amazon_orders_pipeline.warehouse import connect, replace_report_days

# History through order reports, end to end: in the full suite, not the quick lane.
pytestmark = pytest.mark.slow

ACCOUNTS = {"acme-us": ["ATVPDKIKX0DER"], "acme-eu": ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]}
FAST = Polling(first_s=0.01, max_s=0.05, timeout_s=60)
# What a report cannot say (docs/history.md), so the two sources' marts differ there by design.
REPORT_CANNOT_FILL = {"is_prime", "is_premium", "is_preorder", "ship_by_earliest_at", "ship_by_latest_at",
                      "deliver_by_earliest_at", "deliver_by_latest_at", "api_version", "fetched_at", "payment_method",
                      "points_cost_amount"}


@pytest.fixture(scope="module")
def emulator():
    with Emulator(speed=3000, seed=17, orders_per_day=120, report_processing_s=30) as emu:
        yield emu


def env_for(tmp_path, emulator, name: str) -> dict[str, str]:
    accounts = tmp_path / f"{name}.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    return emulator_env(emulator.url, tmp_path / name, accounts, partitions_start="2026-01-01")


def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture(scope="module")
def history(tmp_path_factory, emulator):
    """Sixty days of both accounts through reports, into the marts."""
    tmp = tmp_path_factory.mktemp("history")
    env = env_for(tmp, emulator, "reports")
    first, last = today() - timedelta(days=62), today() - timedelta(days=3)
    before = EmulatorControl(emulator).stats().get("createReport.calls", 0)
    run = backfill_history(first, last, environ=env, resources=fast_resources(env))
    return env, first, last, run, EmulatorControl(emulator).stats()["createReport.calls"] - before


def extract_metadata(run, asset: str) -> dict:
    [metadata] = [m for m in run.metadata() if m["asset"] == asset]
    return metadata


def test_sixty_days_of_two_accounts_through_reports_equal_the_ground_truth(history, emulator):
    env, first, last, run, created = history
    assert run.success
    # Sixty days of two accounts: one extract run, two 30-day reports per account, no page.
    assert len(run.extract) == 1 and created == 4
    landed = extract_metadata(run, "amazon_sp_api/landed_order_pages")
    assert (landed["accounts"], landed["days"], landed["days_through_reports"], landed["reports"],
            landed["pages"]) == (2, 120, 120, 4, 0)
    for account_id, marketplaces in ACCOUNTS.items():
        assert_marts_equal_the_truth(env["DUCKDB_PATH"], emulator, account_id, marketplaces, first, last)
    # Every check passed, the money rules and the totals included.
    failed = [e.check_name for e in run.transform.get_asset_check_evaluations() if not e.passed]
    assert not failed


def assert_marts_equal_the_truth(db: str, emulator, account_id: str, marketplaces: list[str], first: date,
                                 last: date) -> None:
    """The account's orders (ids, statuses) that came from reports, and its lines (quantities and line totals by
    SKU), equal the emulator's."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    got, want = orders_against_truth_by_sku(db, EmulatorControl(emulator), account_id, start, end, marketplaces,
                                            api_version="report")
    assert got == want and len(got["orders"]) > 500


def test_the_same_days_through_searchorders_give_the_same_values_on_every_column_both_fill(history, emulator,
                                                                                          tmp_path):
    env, _, last, _, _ = history
    days = [last - timedelta(days=2), last - timedelta(days=1), last]
    api_env = env_for(tmp_path, emulator, "api")
    for day in days:
        for account_id in ACCOUNTS:
            materialize_raw(api_env, day, account_id)
    assert materialize_transform(api_env, days[0], days[-1]).success
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as reports, \
            duckdb.connect(api_env["DUCKDB_PATH"], read_only=True) as api:
        columns = [c for (c,) in api.execute("select column_name from information_schema.columns where "
                                             "table_schema = 'main' and table_name = 'orders' order by all").fetchall()
                   if c not in REPORT_CANNOT_FILL]
        select = f"select {', '.join(columns)} from main.orders where last_changed_partition between ? and ?"
        api_rows = {r[columns.index("order_id")]: r for r in api.execute(select, [days[0], days[-1]]).fetchall()}
        report_rows = {r[columns.index("order_id")]: r for r in reports.execute(select, [days[0], days[-1]]).fetchall()}
        # The same versions (an order may have changed between the report and the API call): equal on every column.
        # Also left out: orders with two lines of one SKU, which a report without `order-item-id` cannot tell apart
        # (they become one line: the same quantity and money, one line fewer).
        repeated = {o for (o,) in api.execute("select distinct order_id from main.order_items "
                                              "group by order_id, sku having count(*) > 1").fetchall()}
        same = [k for k in api_rows if k in report_rows and k not in repeated
                and api_rows[k][columns.index("last_updated_at")] == report_rows[k][columns.index("last_updated_at")]]
        comparable = [k for k in api_rows if k in report_rows and k not in repeated]
        assert len(same) > 0.9 * len(comparable) > 50, (len(same), len(comparable), len(api_rows))
        assert [report_rows[k] for k in same] == [api_rows[k] for k in same]
        item_columns = ["order_id", "sku", "asin", "title", "quantity_ordered", "quantity_fulfilled",
                        "unit_price_amount", "line_total_amount", "tax_amount", "shipping_amount", "gift_wrap_amount",
                        "promotion_discount_amount", "item_proceeds_amount", "currency_code", "promotion_ids"]
        items = f"select {', '.join(item_columns)} from main.order_items where order_id = any(?) order by all"
        assert reports.execute(items, [same]).fetchall() == api.execute(items, [same]).fetchall()
    # Encodings arrived intact: a Cp1252 title with ß and ö from the EU account's report.
    assert query(env["DUCKDB_PATH"], "select count(*) from main.order_items where title like '%Größe%'")[0][0] > 0


def test_pii_columns_only_for_the_account_that_has_pii_on(history):
    env = history[0]
    postal = dict(query(env["DUCKDB_PATH"], "select account_id, count(postal_code) from main.order_addresses "
                                            "group by all"))
    assert postal["acme-us"] == 0 and postal["acme-eu"] > 0


def test_a_rerun_asks_for_no_report_again_and_downloads_nothing_again(history, emulator):
    env, first, last, _, _ = history
    control = EmulatorControl(emulator)
    before = control.stats()
    run = backfill_history(first, last, environ=env, resources=fast_resources(env), transform=False)
    after = control.stats()
    assert run.success
    assert after["createReport.calls"] == before["createReport.calls"]
    assert after.get("getReportDocument.calls", 0) == before.get("getReportDocument.calls", 0)
    assert extract_metadata(run, "amazon_sp_api/landed_order_pages")["reports_downloaded"] == 0
    assert extract_metadata(run, "amazon_sp_api/order_pages")["report_records"] > 1000


def test_a_report_asked_for_by_a_run_that_died_is_polled_again_not_asked_again(emulator, tmp_path):
    env = env_for(tmp_path, emulator, "resume")
    resources = fast_resources(env)
    landing = resources["landing"].store()
    account = resources["sp_api"].accounts()["acme-us"]
    reports = ReportsClient(resources["sp_api"].client_for(account), polling=FAST)
    first, last = today() - timedelta(days=40), today() - timedelta(days=5)
    windows = report_windows(first, last, datetime.now(UTC))
    # The died run: it asked for the first window's report and recorded the id, then was killed.
    store = ReportStore(landing, "acme-us")
    report_id = reports.create(BY_LAST_UPDATE, account.marketplace_ids, *windows[0])
    store.save(windows[0], {"report_id": report_id, "status": "REQUESTED", "report_type": BY_LAST_UPDATE})
    created = EmulatorControl(emulator).stats()["createReport.calls"]
    result = extract_history(reports, landing, account_id="acme-us", first=first, last=last,
                             marketplace_ids=account.marketplace_ids)
    assert [r.report_id for r in result.reports][0] == report_id
    assert EmulatorControl(emulator).stats()["createReport.calls"] == created + len(windows) - 1


def test_windows_are_thirty_days_at_most_and_end_an_hour_before_now():
    now = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    windows = report_windows(date(2026, 1, 1), date(2026, 11, 26), now)
    assert len(windows) == 11 and all(b - a <= timedelta(days=30) for a, b in windows)
    assert windows[0][0] == datetime(2026, 1, 1, tzinfo=UTC) and windows[-1][1] == datetime(2026, 11, 26, 23, 30,
                                                                                              tzinfo=UTC)
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))


def test_unknown_values_are_quarantined_split_rows_joined_and_columns_read_by_name(tmp_path, emulator):
    env = env_for(tmp_path, emulator, "bad")
    header = ("url\tamazon-order-id\tlast-updated-date\tpurchase-date\torder-status\tfulfillment-channel\t"
              "sales-channel\tsku\tproduct-name\titem-status\tquantity\tcurrency\titem-price\titem-tax\tship-country\n")
    rows = [
        "\t111-0000001-0000001\t2026-10-01T10:00:00+00:00\t2026-10-01T09:00:00+00:00\tShipped - Delivered to Buyer"
        "\tAmazon\tAmazon.com\tSKU-1\tWidget\tShipped\t1\tUSD\t10.00\t0.80\tUS",
        "\t111-0000001-0000001\t2026-10-01T10:00:00+00:00\t2026-10-01T09:00:00+00:00\tShipped - Delivered to Buyer"
        "\tAmazon\tAmazon.com\tSKU-1\tWidget\tShipped\t2\tUSD\t20.00\t1.60\tUS",
        "\t111-0000002-0000002\t2026-10-01T11:00:00+00:00\t2026-10-01T09:00:00+00:00\tFrozen"
        "\tMerchant\tAmazon.com\tSKU-2\tGadget\tUnshipped\t1\tUSD\t5.00\t0.40\tUS",
        "\t111-0000003-0000003\t2026-10-01T12:00:00+00:00\t2026-10-01T09:00:00+00:00\tShipped"
        "\tDrone\tAmazon.com\tSKU-3\tThing\tShipped\t1\tUSD\t5.00\t0.40\tUS",
    ]
    by_day = report_records(header + "\n".join(rows) + "\n", pii=False, fallback_day=date(2026, 10, 1))
    assert list(by_day) == [date(2026, 10, 1)] and len(by_day[date(2026, 10, 1)]) == 3
    db = env["DUCKDB_PATH"]
    (tmp_path / "bad" / "warehouse").mkdir(parents=True, exist_ok=True)
    with connect(db) as conn:
        replace_report_days(conn, "acme-us", record_texts(by_day).items(), attempt_id="t", is_redacted=True,
                            fetched_at=datetime(2026, 10, 2, tzinfo=UTC), request_params={"source": "reports"})
    result = materialize_transform(env, date(2026, 10, 1), raise_on_error=False)
    assert query(db, "select order_id, reason from staging.quarantine order by 1") == [
        ("111-0000002-0000002", "unknown fulfillmentStatus: Frozen"),
        ("111-0000003-0000003", "unknown fulfilledBy: Drone")]
    # The split line is one line again: 3 units, 30.00, and the order total is the sum of its lines.
    assert query(db, "select quantity_ordered, unit_price_amount, line_total_amount, item_proceeds_amount "
                     "from main.order_items") == [(3, Decimal("10"), Decimal("30"), Decimal("32.40"))]
    assert query(db, "select order_status, fulfilled_by, marketplace_id, order_total_amount, api_version "
                     "from main.orders") == [("SHIPPED", "AMAZON", "ATVPDKIKX0DER", Decimal("32.40"), "report")]
    assert result.success


@pytest.mark.slow
def test_a_backfill_killed_while_its_reports_process_resumes_without_asking_for_any_again(tmp_path):
    # Amazon's 20 minutes of processing take 6 s here: long enough to kill the run while it waits.
    with Emulator(speed=200, seed=23, orders_per_day=60, report_processing_s=1200) as emu:
        accounts = tmp_path / "accounts.yaml"
        accounts.write_text(TWO_ACCOUNTS.split("  - id: acme-eu")[0])
        env = emulator_env(emu.url, tmp_path / "killed", accounts)
        first, last = today() - timedelta(days=45), today() - timedelta(days=3)
        windows = report_windows(first, last, datetime.now(UTC))
        assert len(windows) == 2
        states = [tmp_path / "killed" / "landing" / f"{ReportStore(None, 'acme-us')._window(w)}/STATE.json"
                  for w in windows]
        proc = subprocess.Popen([sys.executable, "-m", "amazon_orders_pipeline", "history", "--start", str(first),
                                 "--end", str(last)], env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 180
            while not all(p.exists() for p in states):
                assert proc.poll() is None and time.monotonic() < deadline, "the backfill did not ask for reports"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        asked = [json.loads(p.read_text()) for p in states]
        assert [s["status"] for s in asked] == ["REQUESTED", "REQUESTED"]
        created = EmulatorControl(emu).stats()["createReport.calls"]
        assert created == 2
        run = backfill_history(first, last, environ=env, resources=fast_resources(env))
        assert run.success
        # Both reports were polled again by their ids; none was asked for again.
        assert EmulatorControl(emu).stats()["createReport.calls"] == created
        assert [json.loads(p.read_text())["report_id"] for p in states] == [s["report_id"] for s in asked]
        assert_marts_equal_the_truth(env["DUCKDB_PATH"], emu, "acme-us", ACCOUNTS["acme-us"], first, last)
