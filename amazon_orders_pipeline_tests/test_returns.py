"""The returns reports landed and loaded (returns/): windows split as Amazon allows, resumable, an empty MFN window
a success, every line kept (a malformed one marked for quarantine), and the rows equal to the emulator's truth."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.assets import build_assets
from amazon_orders_pipeline.assets.keys import RETURN_REPORTS_KEY, RETURN_ROWS_KEY
from amazon_orders_pipeline.checks import UNKNOWN_CODES, UNKNOWN_ORDERS, UNPAIRED
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.returns import returns_in
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.extract.order_reports import ask
from amazon_orders_pipeline.local_runs import (
    account_span,
    materialize_finance_tags,
    materialize_raw_range,
    materialize_return_models,
    materialize_returns,
)
from amazon_orders_pipeline.resources import SpApiResource, build_resources
from amazon_orders_pipeline.returns.landing import LandedWindow, ReturnsRead, land_returns, read_store, return_windows
from amazon_orders_pipeline.returns.raw import document_rows, load_read
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.sp_api.reports import FBA_RETURNS, MFN_RETURNS, ReportsClient
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.dbt_runs import run_dbt
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS, emulator_env

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


# The whole path through Dagster and dbt: orders, their money and both returns reports of two accounts, read as the
# schedules read them, and order_returns against the emulator's ground truth.
ACCOUNTS = ["acme-us", "acme-eu"]
MARKETPLACES = {"acme-us": NA, "acme-eu": ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]}
RETURN_DAYS = 90
ORDER_DAYS = 100  # returns of orders older than this are of orders the marts do not hold
# A read of bad input beside Amazon's rows (FBA columns, one extra): an unknown reason, an unknown disposition, an
# order the marts do not hold, a malformed line, and a line without a quantity.
CRAFTED = ("return-date\torder-id\tsku\tasin\tfnsku\tproduct-name\tquantity\tfulfillment-center-id\t"
           "detailed-disposition\treason\tstatus\tlicense-plate-number\tcustomer-comments\tbrand-new\n"
           "{day}T10:00:00+00:00\t{order}\t{sku}\tB0X\tX0X\tThing\t1\tPHX7\tSELLABLE\tSPLINE_RETICULATED\t"
           "Unit returned to inventory\tLPNCRAFTED01\t\textra\n"
           "{day}T11:00:00+00:00\t{order}\t{sku}\tB0X\tX0X\tThing\t1\tPHX7\tMELTED\tDEFECTIVE\t"
           "Unit returned to inventory\tLPNCRAFTED02\t\textra\n"
           "{day}T12:00:00+00:00\t999-0000000-0000001\tNOSUCH-SKU\tB0X\tX0X\tThing\t1\tPHX7\tSELLABLE\tDEFECTIVE\t"
           "Unit returned to inventory\tLPNCRAFTED03\t\textra\n"
           "{day}T13:00:00+00:00\t{order}\ttoo few fields\n"
           "{day}T14:00:00+00:00\t{order}\t{sku}\tB0X\tX0X\tThing\t\tPHX7\tSELLABLE\tDEFECTIVE\t"
           "Unit returned to inventory\tLPNCRAFTED04\t\textra\n")
CRAFTED_KEYS = {"LPNCRAFTED01", "LPNCRAFTED02", "LPNCRAFTED03"}


def midnight_after(ts: datetime) -> datetime:
    return datetime.combine(ts.date() + timedelta(days=1), datetime.min.time(), UTC)


def truth_of(emulator, first, end) -> list[dict]:
    control = EmulatorControl(emulator)
    return [{**t, "account_id": a} for a in ACCOUNTS for t in control.returns_truth(
        a, datetime.combine(first, datetime.min.time(), UTC), datetime.combine(end, datetime.min.time(), UTC),
        MARKETPLACES[a])]


@pytest.fixture(scope="module")
def returned(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("returned")
    (workdir / "accounts.yaml").write_text(TWO_ACCOUNTS)
    with Emulator(speed=2000, seed=5, orders_per_day=16, report_processing_s=30) as emulator:
        env = emulator_env(emulator.url, workdir, workdir / "accounts.yaml")
        resources = build_resources(Settings.from_env(env))
        control = EmulatorControl(emulator)
        now = emulator.state.clock.now()
        materialize_raw_range(now.date() - timedelta(days=ORDER_DAYS), now.date() - timedelta(days=1), ACCOUNTS,
                              environ=env, resources=resources)
        # The money of the posted days the returns' refunds fall in.
        money_from = now.date() - timedelta(days=RETURN_DAYS + 10)
        materialize_finance_tags({"dagster/asset_partition_range_start": f"acme-us|{money_from}",
                                  "dagster/asset_partition_range_end": f"acme-eu|{now.date() - timedelta(days=3)}"},
                                 environ=env, resources=resources)
        # A unit of an order the marts hold, processed 40 days or more after the order, in the next weeks, and
        # listed by Amazon only after the day of its processing has closed.
        seller = seller_key(emulator_refresh_token("acme-us"))
        late = next(r for r in returns_in(emulator.state, seller, "AFN", now, now + timedelta(days=30),
                                          now + timedelta(days=40), set(NA))
                    if r.processed_at - r.order_created_at >= timedelta(days=40)
                    and r.listed_at > midnight_after(r.processed_at) + timedelta(hours=2))
        # The first read, as a backfill, the day after that processing: the unit is not listed yet. Made again, the
        # same backfill asks Amazon for nothing.
        control.set_clock(midnight_after(late.processed_at) + timedelta(hours=2))
        today = midnight_after(late.processed_at).date()
        first, last = today - timedelta(days=RETURN_DAYS), today - timedelta(days=1)
        materialize_returns(first, last, ACCOUNTS, environ=env, resources=resources, tags={"dagster/backfill": "b1"})
        asked = control.stats()["createReport.calls"]
        again = materialize_returns(first, last, ACCOUNTS, environ=env, resources=resources,
                                    tags={"dagster/backfill": "b1"})
        asked_again = control.stats()["createReport.calls"] - asked
        # A backfill may split its partitions over runs: a run of the same backfill over other days reads them.
        materialize_returns(last - timedelta(days=4), last, ACCOUNTS, environ=env, resources=resources,
                            tags={"dagster/backfill": "b1"})
        asked_split = control.stats()["createReport.calls"] - asked - asked_again
        # Once Amazon lists it, the daily schedule's read of the trailing days finds it.
        control.set_clock(late.listed_at + timedelta(hours=2))
        later = late.listed_at.date() + timedelta(days=1)
        materialize_returns(later - timedelta(days=RETURN_DAYS), later - timedelta(days=1), ACCOUNTS, environ=env,
                            resources=resources, tags={"dagster/backfill": "b2"})
        store = LocalStore(workdir / "landing")
        db = env["DUCKDB_PATH"]
        run_dbt(db, money_from, later)
        with duckdb.connect(db, read_only=True) as conn:
            order, sku = conn.execute("select order_id, sku from main.order_items where account_id = 'acme-us' "
                                      "order by order_id, sku limit 1").fetchone()
        crafted = CRAFTED.format(day=(today - timedelta(days=5)).isoformat(), order=order, sku=sku)
        key = "return_reports/fba/read=crafted/account=acme-us/crafted.tsv"
        store.put(key, crafted.encode())
        read = ReturnsRead("acme-us", FBA_RETURNS, "crafted", [LandedWindow(
            (datetime.combine(today - timedelta(days=5), datetime.min.time(), UTC),
             datetime.combine(today - timedelta(days=4), datetime.min.time(), UTC)),
            "DONE", "crafted-report", key, "utf-8", late.listed_at.isoformat())])
        with warehouse.connect(db) as conn:
            load_read(conn, store, read)
        checks = materialize_return_models(first, later, environ=env, resources=resources)
        yield {"emulator": emulator, "db": db, "first": first, "later": later, "late": late,
               "exports": Path(env["EXPORT_DIR"]), "env": env,
               "asked_again": asked_again, "asked_split": asked_split, "again": again, "checks": checks}


MART_SQL = """
select account_id, case fulfilled_by when 'AMAZON' then 'AFN' else 'MFN' end, order_id, sku, return_key, quantity,
       reason_code, disposition, status, refund_id, refunded_amount, order_known, return_date
from main.order_returns
"""


def mart(db) -> dict[tuple, tuple]:
    with duckdb.connect(db, read_only=True) as conn:
        return {r[:5]: r[5:] for r in conn.execute(MART_SQL).fetchall()}


def test_order_returns_equal_the_ground_truth_and_pair_with_their_refunds(returned):
    rows = {k: v for k, v in mart(returned["db"]).items() if k[4] not in CRAFTED_KEYS}
    truth = truth_of(returned["emulator"], returned["first"], returned["later"])
    by_key = {(t["account_id"], t["network"], t["order_id"], t["sku"], t["return_key"]): t for t in truth}
    assert rows.keys() == by_key.keys() and {k[1] for k in rows} == {"AFN", "MFN"} and {k[0] for k in rows} == set(
        ACCOUNTS)
    for key, (quantity, reason, disposition, status, *_) in rows.items():
        t = by_key[key]
        assert (quantity, reason, disposition, status) == (t["quantity"], t["reason"], t["disposition"], t["status"])
    # Each return with a refund the money holds is paired with that refund, and no return with another; the refund's
    # amount is on one of its rows, equal to what it paid back.
    with duckdb.connect(returned["db"], read_only=True) as conn:
        refunds = {r[0] for r in conn.execute("select refund_id from staging.stg_amazon_sp_api__refund_items"
                                                            ).fetchall()}
    paid = {}
    for key, (_, _, _, _, refund_id, amount, _, _) in rows.items():
        expected = by_key[key]["refund_id"]
        assert refund_id == (expected if expected in refunds else None), key
        if amount is not None:
            assert refund_id not in paid
            paid[refund_id] = amount
    truth_paid = {t["refund_id"]: Decimal(t["refunded"]) for t in truth if t["refund_id"] in refunds}
    assert paid == truth_paid and len(paid) > 5
    # A SKU of one order returned twice is two rows.
    units = Counter(k[:4] for k in rows)
    assert any(n > 1 for n in units.values())


def test_a_unit_processed_40_days_after_its_order_is_found_by_a_later_read_in_its_order(returned):
    late = returned["late"]
    with duckdb.connect(returned["db"], read_only=True) as conn:
        # The first read did not have it (Amazon had not listed it yet); the later one did.
        reads = conn.execute("select distinct read_id from raw.return_rows "
                             "where (row_json ->> 'license-plate-number') = ?", [late.return_key]).fetchall()
        row = conn.execute("select r.order_id, r.sku, r.return_date, r.order_known, r.return_date - o.purchase_date "
                           "from main.order_returns as r join main.orders as o using (account_id, order_id) "
                           "where r.return_key = ?", [late.return_key]).fetchone()
    assert len(reads) == 1 and reads[0][0].startswith("b2/")
    assert row[:4] == (late.order_id, late.sku, late.processed_at.date(), True) and row[4] >= 40


def test_a_load_whose_days_no_finished_read_covers_fails_and_names_them(returned):
    settings = Settings.from_env(returned["env"])
    first = returned["first"]
    result = dg.materialize(build_assets(settings).all, selection=[RETURN_REPORTS_KEY, RETURN_ROWS_KEY],
                            resources=build_resources(settings), raise_on_error=False,
                            tags={**account_span(first, first + timedelta(days=2), ACCOUNTS),
                                  "dagster/backfill": "never-read"})
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert f"no finished read of never-read covers {first}" in failure.step_failure_data.error.message


def test_a_backfill_made_again_asks_for_nothing_and_loads_the_same(returned):
    assert returned["asked_again"] == 0
    assert returned["asked_split"] == 4  # its own read: a window of each report for each account
    assert returned["again"].success


def test_bad_input_is_kept_flagged_or_quarantined_and_the_checks_list_it(returned):
    db = returned["db"]
    with duckdb.connect(db, read_only=True) as conn:
        crafted = {r[0]: r[1:] for r in conn.execute(
            "select return_key, reason_code, reason_known, disposition, disposition_known, order_known "
            "from main.order_returns where read_id = 'crafted'").fetchall()}
        quarantined = conn.execute("select reason from staging.returns_quarantine where read_id = 'crafted' "
                                   "order by reason").fetchall()
        extra = conn.execute("select row_json ->> 'brand-new' from raw.return_rows where read_id = 'crafted' "
                             "and (row_json ->> 'license-plate-number') = 'LPNCRAFTED01'").fetchone()
        unknown_orders = conn.execute("select count(distinct (account_id, order_id)) from main.order_returns "
                                      "where not order_known").fetchone()[0]
    assert crafted == {"LPNCRAFTED01": ("SPLINE_RETICULATED", False, "SELLABLE", True, True),
                       "LPNCRAFTED02": ("DEFECTIVE", True, "MELTED", False, True),
                       "LPNCRAFTED03": ("DEFECTIVE", True, "SELLABLE", True, False)}
    assert quarantined == [("line 5 has 3 fields, the header 14",), ("the quantity (none) is not a positive whole "
                                                                    "number",)]
    assert extra == ("extra",)
    checks = {e.check_name: e for e in returned["checks"].get_asset_check_evaluations()}
    assert not checks[UNKNOWN_CODES].passed
    listed = checks[UNKNOWN_CODES].metadata["listed"].value
    assert "reason SPLINE_RETICULATED: 1 rows" in listed and "disposition MELTED: 1 rows" in listed
    assert not checks[UNKNOWN_ORDERS].passed
    # The crafted order and the orders older than the history loaded, each listed once.
    assert checks[UNKNOWN_ORDERS].metadata["returns_of_unknown_orders"].value == unknown_orders > 1
    unpaired = checks[UNPAIRED].metadata["listed"].value
    assert "return without a refund" in unpaired and "refund without a return" in unpaired


RETURNS_DOC = Path(__file__).resolve().parents[1] / "docs" / "returns.md"


def doc_queries() -> dict[int, str]:
    block = re.search(r"<!-- returns-sql:start -->\n```sql\n(.*?)```\n<!-- returns-sql:end -->",
                      RETURNS_DOC.read_text(), re.S)
    assert block, "docs/returns.md has no returns-sql block"
    statements = [s.strip() for s in block.group(1).split(";\n") if s.strip()]
    return {int(re.match(r"-- (\d+)\. ", s).group(1)): s for s in statements}


def test_the_analyst_queries_of_the_docs_answer_what_the_mart_rows_say(returned):
    queries = doc_queries()
    assert sorted(queries) == [1, 2, 3]
    with duckdb.connect(returned["db"], read_only=True) as conn:
        answers = {n: conn.execute(sql).fetchall() for n, sql in queries.items()}
        returns = conn.execute("select r.account_id, r.sku, r.quantity, r.fulfilled_by, r.disposition, "
                               "coalesce(r.reason, r.reason_code), r.currency_code, r.refund_transaction_id, "
                               "r.refunded_amount, o.purchase_date from main.order_returns as r "
                               "left join main.orders as o using (account_id, order_id)").fetchall()
        sold = conn.execute("select i.account_id, i.sku, o.purchase_date, i.quantity_ordered from main.order_items "
                            "as i join main.orders as o using (account_id, order_id)").fetchall()
    # 1: per (account, SKU, month of purchase), units returned of the units sold.
    units_sold, units_back = Counter(), Counter()
    for account, sku, purchased, quantity in sold:
        units_sold[account, sku, purchased.replace(day=1)] += quantity
    for account, sku, quantity, *_, purchased in returns:
        if purchased is not None:
            units_back[account, sku, purchased.replace(day=1)] += quantity
    got = {(a, s, m.date() if hasattr(m, "date") else m): (sold_, back) for a, s, m, sold_, back, _ in answers[1]}
    assert got == {k: (v, units_back[k]) for k, v in units_sold.items() if v > 0}
    assert any(back for _, back in got.values())
    # 2: FBA units per disposition and reason.
    assert Counter({(d, r): n for d, r, n in answers[2]}) == Counter(
        (d, r) for _, _, _, network, d, r, *_ in returns if network == "AMAZON")
    # 3: per (account, SKU, currency), units, returns without a refund, and each refund counted once.
    expected = {}
    for account, sku, quantity, _, _, _, currency, refund, amount, _ in returns:
        units, unpaired, total = expected.get((account, sku, currency), (0, 0, Decimal(0)))
        expected[account, sku, currency] = (units + quantity, unpaired + (refund is None), total + (amount or 0))
    assert {r[:3]: r[3:] for r in answers[3]} == expected


def test_the_erp_gets_a_return_document_per_return_and_salesforce_each_returned_orders_totals(returned):
    with duckdb.connect(returned["db"], read_only=True) as conn:
        rows = conn.execute("select account_id, order_id, fulfilled_by, return_date, sku, quantity, disposition, "
                            "coalesce(refunded_amount, 0) from main.order_returns").fetchall()
    documents = [(path.parts[-3], json.loads(line)) for path in returned["exports"].glob("erp_returns/*/*/"
                                                                                          "return_documents.jsonl")
                 for line in path.read_text().splitlines()]
    # One document per (account, order, network, day), holding exactly that return's units.
    expected = Counter()
    for account, order, network, day, sku, quantity, *_ in rows:
        expected[account, order, network == "AMAZON", day.isoformat(), sku] += quantity
    got = Counter()
    for account, d in documents:
        for line in d["credit_note"]["lines"]:
            got[account, d["order_number"], d["fulfilled_by_amazon"], d["date"], line["sku"]] += line["quantity"]
        assert sum(x["quantity"] for x in d["stock_receipt"]["lines"]) == sum(
            x["quantity"] for x in d["credit_note"]["lines"])
    assert got == expected and len(documents) == len({(a, d["number"]) for a, d in documents})
    # Sellable FBA units back to stock, the others not; an MFN return's receipt leaves it to the ERP.
    receipts = [(d["fulfilled_by_amazon"], x) for _, d in documents for x in d["stock_receipt"]["lines"]]
    assert {x["to_stock"] for amazon, x in receipts if amazon and x["disposition"] == "SELLABLE"} == {True}
    assert {x["to_stock"] for amazon, x in receipts if amazon and x["disposition"] != "SELLABLE"} == {False}
    assert {x["to_stock"] for amazon, x in receipts if not amazon} == {None}
    # The credit notes hold every refund once.
    assert sum(Decimal(d["credit_note"]["total"]) for _, d in documents) == sum(r[-1] for r in rows) > 0
    manifests = list(returned["exports"].glob("erp_returns/*/*/manifest.json"))
    assert manifests and all(json.loads(m.read_text())["system"] == "erp_returns" for m in manifests)
    # Salesforce: each order the marts hold, on the file of each day it had a return, with its totals over all.
    with duckdb.connect(returned["db"], read_only=True) as conn:
        totals = {(a, o): (str(q), f"{r:.2f}", str(d)) for a, o, q, r, d in conn.execute(
            "select account_id, order_id, sum(quantity), coalesce(sum(refunded_amount), 0), max(return_date) "
            "from main.order_returns where order_known group by all").fetchall()}
        days = {(a, o, str(d)) for a, o, d in conn.execute(
            "select distinct account_id, order_id, return_date from main.order_returns where order_known").fetchall()}
    seen = set()
    for path in returned["exports"].glob("salesforce_returns/*/*/order_returns.csv"):
        account, day = path.parts[-3], path.parts[-2]
        for row in csv.DictReader(path.open()):
            seen.add((account, row["ExternalId__c"], day))
            assert (row["ReturnedQuantity__c"], row["ReturnRefundedAmount__c"], row["LastReturnDate__c"]) == \
                totals[account, row["ExternalId__c"]]
        assert json.loads((path.parent / "manifest.json").read_text())["externalIdFieldName"] == "ExternalId__c"
    assert seen == days and any(t[0] != "1" for t in totals.values())
