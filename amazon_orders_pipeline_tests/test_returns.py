"""The returns reports landed and loaded (returns/): windows split as Amazon allows, resumable, an empty MFN window
a success, every line kept (a malformed one marked for quarantine), and the rows equal to the emulator's truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.extract.order_reports import ask
from amazon_orders_pipeline.resources import SpApiResource
from amazon_orders_pipeline.returns.landing import land_returns, read_store, return_windows
from amazon_orders_pipeline.returns.raw import document_rows, load_read
from amazon_orders_pipeline.sp_api.reports import FBA_RETURNS, MFN_RETURNS, ReportsClient
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS

NA = ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC"]


@pytest.fixture(scope="module")
def seller(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("returns")
    (workdir / "accounts.yaml").write_text(TWO_ACCOUNTS)
    with Emulator(speed=1000, seed=11, orders_per_day=60, report_processing_s=30) as emulator:
        resource = SpApiResource(accounts_file=str(workdir / "accounts.yaml"), endpoint=emulator.url,
                                 lwa_token_url=f"{emulator.url}/auth/o2/token", retry_base_delay_s=0.01)
        account = resource.accounts()["acme-us"]
        reports = ReportsClient(resource.client_for(account, usage_plans=emulator.state.usage_plans()))
        yield emulator, reports, LocalStore(workdir / "landing"), str(workdir / "warehouse.duckdb")


def created(emulator) -> int:
    return emulator.state.stats["createReport.calls"]


def test_windows_are_split_at_each_reports_longest():
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    first, last = now.date() - timedelta(days=90), now.date() - timedelta(days=1)
    for report_type, longest in ((FBA_RETURNS, 30), (MFN_RETURNS, 60)):
        windows = return_windows(report_type, first, last, now)
        assert windows[0][0].date() == first and windows[-1][1].date() == last + timedelta(days=1)
        assert all(b - a <= timedelta(days=longest) for a, b in windows)
        assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert len(return_windows(MFN_RETURNS, first, last, now)) == 2  # 90 days: never one request of 61 or more


def test_both_reports_land_load_and_equal_the_truth(seller):
    emulator, reports, store, db = seller
    now = emulator.state.clock.now()
    first, last = (now - timedelta(days=100)).date(), (now - timedelta(days=11)).date()
    reads = [land_returns(reports, store, account_id="acme-us", report_type=t, first=first, last=last,
                          marketplace_ids=["ATVPDKIKX0DER"], read_id="r1") for t in (FBA_RETURNS, MFN_RETURNS)]
    asked = created(emulator)
    # Made again, the same read asks for nothing and downloads nothing.
    again = [land_returns(reports, store, account_id="acme-us", report_type=t, first=first, last=last,
                          marketplace_ids=["ATVPDKIKX0DER"], read_id="r1") for t in (FBA_RETURNS, MFN_RETURNS)]
    assert again == reads and created(emulator) == asked
    with warehouse.connect(db) as conn:
        loaded = sum(load_read(conn, store, r) for r in reads)
        assert sum(load_read(conn, store, r) for r in reads) == loaded  # loading again replaces, adds nothing
        rows = [(t, json.loads(j)) for t, j in conn.execute(
            "select report_type, row_json from raw.return_rows").fetchall()]
        assert conn.execute("select count(*) from raw.return_rows").fetchone()[0] == loaded
    got = {("AFN", r["order-id"], r["license-plate-number"]) if t == FBA_RETURNS
           else ("MFN", r["Order ID"], r["Amazon RMA ID"]) for t, r in rows}
    start = min(w.window[0] for r in reads for w in r.windows)
    end = max(w.window[1] for r in reads for w in r.windows)
    truth = EmulatorControl(emulator).returns_truth("acme-us", start, end, NA)
    assert got and got == {(t["network"], t["order_id"], t["return_key"]) for t in truth}
    assert len(got) == loaded  # one row per unit (FBA) or per RMA (MFN), none twice


def test_a_killed_read_polls_its_reports_again_and_an_empty_mfn_window_is_a_success(seller):
    emulator, reports, store, db = seller
    now = emulator.state.clock.now()
    day = (now - timedelta(days=20)).date()
    # What a killed run leaves: the window's report asked for, nothing downloaded.
    window = return_windows(MFN_RETURNS, day, day, now)[0]
    ask(reports, read_store(store, "acme-us", MFN_RETURNS, "killed"), window, MFN_RETURNS, ["ATVPDKIKX0DER"])
    asked = created(emulator)
    read = land_returns(reports, store, account_id="acme-us", report_type=MFN_RETURNS, first=day, last=day,
                        marketplace_ids=["ATVPDKIKX0DER"], read_id="killed")
    assert created(emulator) == asked
    # A day with no merchant-fulfilled return: Amazon cancels the report; that is an empty window, loaded as one.
    days = [datetime.combine(now.date() - timedelta(days=d), datetime.min.time(), UTC) for d in range(30, 400)]
    quiet = next(d for d in days if not [t for t in EmulatorControl(emulator).returns_truth(
        "acme-us", d, d + timedelta(days=1), NA) if t["network"] == "MFN"])
    empty = land_returns(reports, store, account_id="acme-us", report_type=MFN_RETURNS, first=quiet.date(),
                         last=quiet.date(), marketplace_ids=["ATVPDKIKX0DER"], read_id="empty")
    assert [w.status for w in empty.windows] == ["CANCELLED"]
    with warehouse.connect(db) as conn:
        assert load_read(conn, store, empty) == 0
        assert conn.execute("select status, landed_key from raw.return_reports where read_id = 'empty'"
                            ).fetchall() == [("CANCELLED", None)]
        load_read(conn, store, read)
    with duckdb.connect(db, read_only=True) as conn:
        assert conn.execute("select count(*) from raw.return_reports where read_id = 'killed'").fetchone() == (1,)


def test_a_malformed_line_is_kept_with_its_reason_and_an_extra_column_kept_by_name():
    text = "order-id\tsku\tquantity\tbrand-new\n111-1\tS1\t1\tx\n111-2\tS2\n\n111-3\tS3\t1\ty\tz\n"
    columns, rows = document_rows(text)
    assert columns == ["order-id", "sku", "quantity", "brand-new"]
    assert [json.loads(r) for r in rows] == [
        {"order-id": "111-1", "sku": "S1", "quantity": "1", "brand-new": "x"},
        {"_malformed": "line 3 has 2 fields, the header 4", "_values": ["111-2", "S2"]},
        {"_malformed": "line 5 has 5 fields, the header 4", "_values": ["111-3", "S3", "1", "y", "z"]}]
