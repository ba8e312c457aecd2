"""Money after the sale: the emulator's listTransactions against Amazon's model and rules, a posted day read and
landed under faults, and the money marts against the emulator's ground truth to the cent."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.assets import build_assets
from amazon_orders_pipeline.assets.keys import FINANCE_RAW_KEYS, LANDED_TRANSACTIONS_KEY, TRANSACTION_RECORDS_KEY
from amazon_orders_pipeline.checks import PRODUCT_CHARGES_SQL
from amazon_orders_pipeline.emulator import money_truth
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.faults import FaultPlan
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.finances import settlements
from amazon_orders_pipeline.finances.landing import DayRead, TransactionStore, new_read_id, read_day
from amazon_orders_pipeline.finances.raw import load_day
from amazon_orders_pipeline.finances.settlements import fetch_settlements, load_settlements
from amazon_orders_pipeline.local_runs import materialize_finances, materialize_raw_range, materialize_transform
from amazon_orders_pipeline.resources import SpApiResource, build_resources
from amazon_orders_pipeline.schedules import finance_days
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.sp_api.pages import Page
from amazon_orders_pipeline.sp_api.reports import ReportsClient
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing import conformance
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.dbt_runs import run_dbt
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS, emulator_env
from amazon_orders_pipeline_tests import spapi_models

PATH = "/finances/2024-06-19/transactions"
# Each money column of order_financials summed; the columns come from the fixed list money_truth.COLUMNS.
TOTALS_SQL = ("select " + ", ".join("sum(" + c + ")" for c in money_truth.COLUMNS) + " from main.order_financials")
US, UK, DE = "ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"


def _z(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _drop_nulls(node):
    """Amazon sends null where its model says array or string (a released status, a leaf's breakdowns, contexts:
    the notes' Amazon.se sample); the rest must fit the model."""
    if isinstance(node, dict):
        return {k: _drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_nulls(v) for v in node]
    return node


@pytest.fixture(scope="module")
def finances_model() -> dict:
    return spapi_models.load("finances_2024-06-19.json")


@pytest.fixture
def day_ago():
    def window(days: int) -> dict:
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
        return {"postedAfter": _z(start), "postedBefore": _z(start + timedelta(days=1))}
    return window


def test_list_transactions_fits_the_model_and_amazons_rules(emulator, finances_model, day_ago):
    access = conformance.token(emulator.url)
    resp = conformance.get(emulator.url, PATH, access, marketplaceId=US, **day_ago(10))
    assert resp.status_code == 200 and resp.headers["x-amzn-RateLimit-Limit"]
    body = resp.json()
    conformance.validate(finances_model, "ListTransactionsResponse", _drop_nulls(body))
    transactions = body["payload"]["transactions"]
    assert {t["transactionType"] for t in transactions} >= {"Shipment"}
    for t in transactions:
        # Every parent is the sum of its children, and the total the sum of the top level.
        def check(nodes, total):
            assert sum(Decimal(str(n["breakdownAmount"]["currencyAmount"])) for n in nodes) == total
            for n in nodes:
                if n.get("breakdowns"):
                    check(n["breakdowns"], Decimal(str(n["breakdownAmount"]["currencyAmount"])))
        total = Decimal(str(t["totalAmount"]["currencyAmount"]))
        check(t["breakdowns"], total)
        assert sum(Decimal(str(i["totalAmount"]["currencyAmount"])) for i in t["items"]) == total
        for item in t["items"]:
            check(item["breakdowns"], Decimal(str(item["totalAmount"]["currencyAmount"])))
            (product,) = item["contexts"]
            assert product["contextType"] == "ProductContext" and product["sku"] and "orderItemId" not in product
    # No start: Amazon's sandbox 400, word for word.
    resp = conformance.get(emulator.url, PATH, access, postedBefore="2022-03-07T00:00:00Z")
    assert resp.status_code == 400
    assert resp.json() == {"errors": [{"code": "InvalidInput", "message": "Start date cannot be null",
                                       "details": "Start date cannot be null"}]}
    # Over 180 days: empty, not an error.
    now = datetime.now(UTC)
    resp = conformance.get(emulator.url, PATH, access, marketplaceId=US, postedAfter=_z(now - timedelta(days=200)),
                           postedBefore=_z(now - timedelta(days=3)))
    assert resp.status_code == 200 and resp.json()["payload"]["transactions"] == []
    # Nothing within two minutes of now; only the two filters Amazon documents.
    assert conformance.get(emulator.url, PATH, access, postedAfter=_z(now)).status_code == 400
    assert conformance.get(emulator.url, PATH, access, relatedIdentifierName="SHIPMENT_ID",
                           relatedIdentifierValue="x").status_code == 400


def test_listing_lag_filters_and_tokens(emulator, day_ago):
    access = conformance.token(emulator.url)
    # The last 48 hours are not listable yet.
    now = datetime.now(UTC)
    recent = conformance.get(emulator.url, PATH, access, marketplaceId=US, postedAfter=_z(now - timedelta(hours=40)))
    assert recent.json()["payload"]["transactions"] == []
    listed = conformance.get(emulator.url, PATH, access, marketplaceId=US, **day_ago(12)).json()["payload"]
    shipment = next(t for t in listed["transactions"] if t["transactionType"] == "Shipment")
    order_id = next(r["relatedIdentifierValue"] for r in shipment["relatedIdentifiers"]
                    if r["relatedIdentifierName"] == "ORDER_ID")
    # By order, without dates: the order's every transaction.
    by_order = conformance.get(emulator.url, PATH, access, relatedIdentifierName="ORDER_ID",
                               relatedIdentifierValue=order_id).json()["payload"]["transactions"]
    assert shipment["transactionId"] in {t["transactionId"] for t in by_order}
    assert all(order_id in {r["relatedIdentifierValue"] for r in t["relatedIdentifiers"]} for t in by_order)
    # By settlement group: released transactions of that group only.
    group = next(r["relatedIdentifierValue"] for r in shipment["relatedIdentifiers"]
                 if r["relatedIdentifierName"] == "FINANCIAL_EVENT_GROUP_ID")
    in_group = conformance.get(emulator.url, PATH, access, relatedIdentifierName="FINANCIAL_EVENT_GROUP_ID",
                               relatedIdentifierValue=group).json()["payload"]["transactions"]
    assert in_group and all(t["transactionStatus"] != "DEFERRED" for t in in_group)
    # The status filter works on the current status; pages of a small size carry a token that lapses.
    emulator.backends.finances.page_size = 5
    emulator.backends.finances.expire_tokens = 1
    first = conformance.get(emulator.url, PATH, access, marketplaceId=US, transactionStatus="RELEASED",
                            **day_ago(12)).json()["payload"]
    assert first["nextToken"]
    assert all((t["transactionStatus"] or "RELEASED").upper() == "RELEASED" for t in first["transactions"])
    lapsed = conformance.get(emulator.url, PATH, access, marketplaceId=US, transactionStatus="RELEASED",
                             nextToken=first["nextToken"], **day_ago(12))
    assert lapsed.status_code == 400 and lapsed.json()["errors"][0]["message"] == "Next token has expired."


class Reader:
    """Reads posted days of the two accounts into a landing area and a DuckDB file, as the pipeline does."""

    def __init__(self, emulator: Emulator, workdir: Path):
        (workdir / "accounts.yaml").write_text(TWO_ACCOUNTS)
        self.emulator = emulator
        self.resource = SpApiResource(accounts_file=str(workdir / "accounts.yaml"), endpoint=emulator.url,
                                      lwa_token_url=f"{emulator.url}/auth/o2/token", retry_base_delay_s=0.01)
        self.store = LocalStore(workdir / "landing")
        self.db = str(workdir / "warehouse.duckdb")
        self.accounts = self.resource.accounts()
        self.reads: list = []

    def read(self, days, account_ids=None) -> None:
        for account in (self.accounts[a] for a in (account_ids or self.accounts)):
            client = self.resource.client_for(account, usage_plans=self.emulator.state.usage_plans())
            for day in days:
                self.reads.append(read_day(client, self.store, account.id, account.marketplace_ids, day,
                                           new_read_id(self.emulator.state.clock.now(), f"run{len(self.reads):05d}")))

                def transaction(work, what):
                    with warehouse.connect(self.db) as conn:
                        return work(conn)

                load_day(self.store, account.id, day, transaction)

    def settle(self) -> None:
        """Land and load every settlement report Amazon lists for the two accounts."""
        for account in self.accounts.values():
            client = self.resource.client_for(account, usage_plans=self.emulator.state.usage_plans())
            fetch_settlements(ReportsClient(client), self.store, account.id, self.emulator.state.clock.now())
            with warehouse.connect(self.db) as conn:
                load_settlements(conn, self.store, account.id)

    def build(self, days) -> None:
        run_dbt(self.db, min(days), max(days) + timedelta(days=1))

    def query(self, sql: str, params=None) -> list[tuple]:
        with duckdb.connect(self.db, read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()


def truth(emulator: Emulator, account_id: str, days, by_sku: bool = False):
    seller = seller_key(emulator_refresh_token(account_id))
    start = datetime.combine(min(days), datetime.min.time(), UTC)
    end = datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), UTC)
    now = emulator.state.clock.now()
    marketplaces = {"acme-us": {US}, "acme-eu": {UK, DE}}[account_id]
    postings = [p for p in money_truth.listed(emulator.backends.finances.posted_in(seller, start, end), now)
                if p.marketplace_id in marketplaces]
    return money_truth.order_money(postings, now, by_sku), postings


MONEY = ", ".join(money_truth.COLUMNS)


# Per order, and per order and SKU: the key columns, then the money columns (fixed lists).
MART_QUERIES = {
    False: "select order_id, currency_code, " + MONEY + " from main.order_financials where account_id = ?",
    True: "select order_id, sku, currency_code, " + MONEY + " from main.order_item_financials where account_id = ?",
}


def mart_money(reader: Reader, account_id: str, by_sku: bool = False) -> dict:
    rows = reader.query(MART_QUERIES[by_sku], [account_id])
    width = 3 if by_sku else 2
    return {r[:width]: dict(zip(money_truth.COLUMNS, r[width:], strict=True)) for r in rows}


@pytest.fixture(scope="module")
def money_run(tmp_path_factory):
    """Two accounts (NA, and EU in GBP and EUR) over 70 posted days, read once after the lag, and every settlement
    Amazon lists for them."""
    with Emulator(orders_per_day=30, speed=1000) as emulator:
        reader = Reader(emulator, tmp_path_factory.mktemp("money"))
        today = emulator.state.clock.now().date()
        days = [today - timedelta(days=n) for n in range(72, 2, -1)]
        reader.read(days)
        reader.settle()
        reader.build(days)
        yield emulator, reader, days


def test_money_marts_equal_the_ground_truth_to_the_cent(money_run):
    emulator, reader, days = money_run
    for account_id in reader.accounts:
        expected, postings = truth(emulator, account_id, days)
        got = mart_money(reader, account_id)
        # The marts hold every order with money in these days (an order whose refund posted in them but whose
        # shipment posted before is there too, with its refund alone).
        assert got == expected, account_id
        assert {c for (_, c) in got} == ({"USD"} if account_id == "acme-us" else {"GBP", "EUR"})
        by_sku, _ = truth(emulator, account_id, days, by_sku=True)
        assert mart_money(reader, account_id, by_sku=True) == by_sku
        fees = reader.query("select transaction_id, fee_kind, amount, currency_code from main.account_fees "
                            "where account_id = ? order by all", [account_id])
        assert fees == money_truth.account_fee_rows(postings) and fees
        # The same truth over the emulator's control endpoint, as a client in another process reads it.
        served = EmulatorControl(emulator).money_truth(
            account_id, datetime.combine(days[0], datetime.min.time(), UTC),
            datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), UTC),
            {"acme-us": {US}, "acme-eu": {UK, DE}}[account_id])
        assert {(o["order_id"], o["currency_code"]): {c: Decimal(o[c]) for c in money_truth.COLUMNS}
                for o in served["orders"]} == got
        assert [(f["transaction_id"], f["fee_kind"], Decimal(f["amount"]), f["currency_code"])
                for f in served["account_fees"]] == fees
        assert {(s["settlement_id"], Decimal(s["total_amount"])) for s in served["settlements"]} == set(reader.query(
            "select settlement_id, total_amount from main.settlements where account_id = ?", [account_id]))
    # Every kind of money shows up somewhere: fees, refunds, withheld tax, deferred money.
    totals = dict(zip(money_truth.COLUMNS, reader.query(TOTALS_SQL)[0], strict=True))
    for column in ("commission", "fba_fulfillment_fee", "refunded_principal", "refund_commission", "tax_withheld",
                   "fees_credited_back", "promotions"):
        assert totals[column] != 0, column
    assert reader.query("select count(*) from main.order_financials where unmapped_amount <> 0") == [(0,)]


def test_settlements_equal_the_ground_truth_and_tie_out(money_run):
    emulator, reader, days = money_run
    now = emulator.state.clock.now()
    covered = 0
    for account_id in reader.accounts:
        seller = seller_key(emulator_refresh_token(account_id))
        truth = {s.settlement_id: s for s in emulator.backends.settlements.listed(seller, now)}
        rows = reader.query("select settlement_id, currency_code, total_amount, difference, deposit_date, line_count, "
                            "lines_amount, reserve_amount, transactions_amount from main.settlements "
                            "where account_id = ?", [account_id])
        assert {r[0] for r in rows} == set(truth) and len(truth) >= 6
        for sid, currency, total, difference, deposit, line_count, lines, reserve, transactions in rows:
            s = truth[sid]
            assert (currency, total, deposit, line_count) == (s.currency, s.total, s.deposit_date.date(),
                                                              len(s.lines)), sid
            held = sum(line["amount"] for line in s.lines if "Reserve" in line["amount-description"])
            assert difference == 0 and reserve == held, sid
            # A group whose every transaction was read ties out against them too.
            if s.start - timedelta(days=31) >= days[0] and s.end + timedelta(days=7) <= days[-1]:
                covered += 1
                assert transactions + reserve == lines, sid
        assert {c for (c,) in reader.query("select distinct currency_code from main.settlements "
                                           "where account_id = ?", [account_id])} == \
            ({"USD"} if account_id == "acme-us" else {"GBP", "EUR"})
    assert covered >= 2
    # EUR files write a decimal comma; inbound fees name an FBA shipment, not an order; every name is mapped.
    assert reader.query("select count(*) from raw.settlement_rows where (row_json ->> 'currency') = 'EUR' "
                        "and (row_json ->> 'total-amount') like '%,%'")[0][0] > 0
    assert reader.query("select count(*) from main.settlement_lines where fba_shipment_id like 'FBA%' "
                        "and order_id is null")[0][0] > 0
    assert reader.query("select count(*) from main.settlement_lines where category = 'unmapped'") == [(0,)]


def test_product_charges_equal_the_order_lines(money_run):
    """What Amazon paid for a shipped order's products is what its lines say they cost: the emulator's orders."""
    emulator, reader, days = money_run
    seller = seller_key(emulator_refresh_token("acme-us"))
    rows = reader.query("select order_id, product_charges from main.order_financials where account_id = 'acme-us' "
                        "and transaction_count > refund_count")
    start = datetime.combine(days[0], datetime.min.time(), UTC)
    end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), UTC)
    whole = [(o, c) for o, c in rows if all(start <= p.posted_at < end for p in
                                            emulator.backends.finances.of_order(seller, o)
                                            if p.transaction_type == "Shipment")]
    assert len(whole) > 0.9 * len(rows)
    for order_id, charges in whole:
        history = emulator.state.find_order(seller, order_id)
        assert charges == sum(line.item_amount for line in history.lines), order_id


def test_deferred_money_is_released_by_a_later_read_and_late_postings_are_found(tmp_path):
    with Emulator(orders_per_day=80, speed=1000) as emulator:
        reader = Reader(emulator, tmp_path)
        real_now = emulator.state.clock.now()
        days = [(real_now - timedelta(days=n)).date() for n in (60, 59, 58)]
        # First read three days after the last day: some transactions are still unlisted (late) and some deferred.
        first_read_at = datetime.combine(days[-1] + timedelta(days=3), datetime.min.time(), UTC)
        emulator.state.clock.set(first_read_at)
        reader.read(days, ["acme-us"])
        reader.build(days)
        deferred = reader.query("select order_id, deferred_amount from main.order_financials "
                                "where account_id = 'acme-us' and deferred_amount <> 0")
        assert deferred, "some orders' money is deferred at the first read"
        before = {r[0]: r for r in reader.query("select order_id, net_proceeds, refund_count "
                                                "from main.order_financials")}
        # 40 days later every deferral has matured (B2B terms are 30 days) and every late posting is listed.
        emulator.state.clock.set(first_read_at + timedelta(days=40))
        expected, postings = truth(emulator, "acme-us", days)
        late = [p for p in postings if p.listable_at > first_read_at]
        assert late, "some transactions of these days became listable after the first read"
        reader.read(days, ["acme-us"])
        reader.build(days)
        assert mart_money(reader, "acme-us") == expected
        assert reader.query("select count(*) from main.order_financials where deferred_amount <> 0") == [(0,)]
        released = reader.query("select count(*) from staging.stg_amazon_sp_api__transactions "
                                "where transaction_status = 'DEFERRED_RELEASED'")[0][0]
        assert released >= len(deferred)
        # The late ones landed in their own orders' rows.
        late_orders = {p.order_id for p in late if p.order_id}
        after = {r[0]: r for r in reader.query("select order_id, net_proceeds, refund_count "
                                               "from main.order_financials")}
        assert late_orders <= set(after)
        assert any(o not in before or before[o] != after[o] for o in late_orders)
        # Both reads are kept in raw, as versions.
        assert reader.query("select count(distinct read_id) from raw.transaction_records where account_id = 'acme-us' "
                            "and partition_date = ?", [days[0]]) == [(2,)]


def test_faults_and_a_lapsed_token_neither_lose_nor_repeat(tmp_path):
    with Emulator(orders_per_day=80, speed=1000) as emulator:
        reader = Reader(emulator, tmp_path)
        days = [(emulator.state.clock.now() - timedelta(days=n)).date() for n in (20, 19)]
        emulator.backends.finances.page_size = 7
        emulator.backends.finances.expire_tokens = 2
        emulator.state.faults.configure(FaultPlan(throttle=0.2, storm_length=3, server_error=0.1, seed=7))
        reader.read(days, ["acme-eu"])
        emulator.state.faults.configure(FaultPlan())
        assert any(r.passes > 1 for r in reader.reads), "a lapsed token made a day be read again"
        assert emulator.state.stats["listTransactions.429"] and emulator.state.stats["listTransactions.500"]
        reader.build(days)
        expected, _ = truth(emulator, "acme-eu", days)
        assert mart_money(reader, "acme-eu") == expected
        # Each transaction once per read in raw; loading a read again changes nothing.
        assert reader.query("select count(*) - count(distinct (read_id, transaction_json ->> 'transactionId')) "
                            "from raw.transaction_records") == [(0,)]
        counted = reader.query("select count(*) from raw.transaction_records")
        reader.read([], ["acme-eu"])
        for day in days:
            load_day(reader.store, "acme-eu", day, lambda work, what: (_ for _ in ()).throw(AssertionError(what)))
        assert reader.query("select count(*) from raw.transaction_records") == counted


def test_an_unfinished_read_is_dropped_and_made_again(tmp_path):
    with Emulator(orders_per_day=40, speed=1000) as emulator:
        reader = Reader(emulator, tmp_path)
        day = (emulator.state.clock.now() - timedelta(days=9)).date()
        landing = TransactionStore(reader.store, "acme-us", day)
        # What a killed run leaves: a page, and no done.json.
        reader.store.put(f"{landing.prefix}/20260101T000000-killed00/page-00001.json", b"{}")
        reader.read([day], ["acme-us"])
        assert landing.read_ids() == [reader.reads[0].read_id]
        assert reader.query("select count(distinct read_id) from raw.transaction_pages") == [(1,)]


def test_unknown_names_are_kept_unmapped_and_malformed_records_quarantined(tmp_path):
    """Bad input: an unknown transaction type, an unknown fee name, a tree deeper than five levels, and records
    that cannot be typed. Nothing is dropped: the money goes to `unmapped`, the records to quarantine."""
    def amount(value):
        return {"currencyCode": "USD", "currencyAmount": value}

    def node(name, value, children=None):
        return {"breakdownType": name, "breakdownAmount": amount(value), "breakdowns": children or []}

    deep = node("Expenses", -1, [node("A", -1, [node("B", -1, [node("C", -1, [node("D", -1, [node("E", -1)])])])])])
    base = {"postedDate": "2026-03-02T10:00:00Z", "transactionStatus": "RELEASED",
            "relatedIdentifiers": [{"relatedIdentifierName": "ORDER_ID",
                                    "relatedIdentifierValue": "114-0000001-0000001"}],
            "marketplaceDetails": {"marketplaceId": US}}
    transactions = [
        {**base, "transactionId": "T1", "transactionType": "Retrocharge", "totalAmount": amount(-2.5),
         "items": [{"contexts": [{"contextType": "ProductContext", "sku": "S1", "quantityShipped": 1}],
                    "totalAmount": amount(-2.5), "breakdowns": [node("Expenses", -2.5, [node("Retro", -2.5)])]}]},
        {**base, "transactionId": "T2", "transactionType": "Shipment", "totalAmount": amount(9),
         "items": [{"contexts": [{"contextType": "ProductContext", "sku": "S1", "quantityShipped": 1}],
                    "totalAmount": amount(9), "breakdowns": [
                        node("Sales", 10, [node("ProductCharges", 10, [node("OurPricePrincipal", 10)])]),
                        node("Expenses", -1, [node("AmazonFees", -1, [node("BrandNewFee", -1, [node("Base", -1)])])]),
                    ]}]},
        {**base, "transactionId": "T3", "transactionType": "ServiceFee", "totalAmount": amount(-1),
         "relatedIdentifiers": [], "breakdowns": [deep]},
        {**base, "transactionId": "T4", "transactionType": "Shipment", "totalAmount": amount("lots")},
        {**base, "transactionId": "T5", "transactionType": "Shipment", "totalAmount": amount(1),
         "transactionStatus": "PENDING_REVIEW"},
        {**base, "transactionType": "Shipment", "totalAmount": amount(1)},
    ]
    store = LocalStore(tmp_path / "landing")
    day = datetime(2026, 3, 2, tzinfo=UTC).date()
    landing = TransactionStore(store, "acme-us", day)
    body = json.dumps({"payload": {"transactions": transactions}}).encode()
    landing.land("20260305T000000-handmade", Page(1, {"postedAfter": "2026-03-02T00:00:00Z"}, "r-1",
                                                  datetime(2026, 3, 5, tzinfo=UTC), body, {}, None,
                                                  "listTransactions"))
    landing.finish(DayRead("acme-us", day, "20260305T000000-handmade", 1, len(transactions), 1, "x"))
    db = str(tmp_path / "warehouse.duckdb")

    def transaction(work, what):
        with warehouse.connect(db) as conn:
            return work(conn)

    assert load_day(store, "acme-us", day, transaction) == (1, len(transactions))
    run_dbt(db, day, day + timedelta(days=1))
    with duckdb.connect(db, read_only=True) as conn:
        reasons = dict(conn.execute("select coalesce(transaction_id, '?'), quarantine_reason "
                                    "from staging.base_amazon_sp_api__transactions "
                                    "where quarantine_reason is not null").fetchall())
        assert reasons == {"T4": "totalAmount is not a number: lots",
                           "T5": "unknown transactionStatus: PENDING_REVIEW", "?": "no transactionId"}
        unmapped = conn.execute("select transaction_id, breakdown_path, amount from "
                                "staging.stg_amazon_sp_api__transaction_amounts where category = 'unmapped' "
                                "order by all").fetchall()
        assert unmapped == [("T1", "Retro", Decimal(-2.5)), ("T2", "AmazonFees/BrandNewFee/Base", Decimal(-1)),
                            ("T3", "A/B/C/D/…", Decimal(-1))]
        (row,) = conn.execute("select product_charges, unmapped_amount, net_proceeds, transaction_count "
                              "from main.order_financials").fetchall()
        assert row == (Decimal(10), Decimal("-3.5"), Decimal("6.5"), 2)
        assert conn.execute("select fee_kind, amount from main.account_fees").fetchall() == [("unmapped", Decimal(-1))]


def test_a_page_row_names_its_landed_file_and_an_older_file_loses_its_page_copies(tmp_path):
    """raw.transaction_pages keeps what each page asked and counted, and the landed file that holds it verbatim; a
    warehouse made when the table held the page itself is altered in place (its rows kept, the copies dropped)."""
    store, day, read_id = LocalStore(tmp_path / "landing"), datetime(2026, 3, 2, tzinfo=UTC).date(), "20260305-r"
    landing = TransactionStore(store, "acme-us", day)
    body = json.dumps({"payload": {"transactions": [{"transactionId": "T1", "postedDate": "2026-03-02T10:00:00Z"}]}})
    landing.land(read_id, Page(1, {"postedAfter": "2026-03-02T00:00:00Z"}, "r-1", datetime(2026, 3, 5, tzinfo=UTC),
                               body.encode(), {}, None, "listTransactions"))
    landing.finish(DayRead("acme-us", day, read_id, 1, 1, 1, "x"))
    db = str(tmp_path / "warehouse.duckdb")
    with warehouse.connect(db) as conn:
        conn.execute("create schema raw; create table raw.transaction_pages (account_id varchar not null, "
                     "partition_date date not null, read_id varchar not null, page_number integer not null, "
                     "request_params json not null, request_id varchar, fetched_at timestamptz not null, "
                     "transaction_count integer not null, page json not null, "
                     "primary key (account_id, partition_date, read_id, page_number))")
        conn.execute("insert into raw.transaction_pages values ('acme-us', '2026-03-01', 'old', 1, '{}', null, "
                     "now(), 0, '{}')")

    def transaction(work, what):
        with warehouse.connect(db) as conn:
            return work(conn)

    assert load_day(store, "acme-us", day, transaction) == (1, 1)
    with duckdb.connect(db, read_only=True) as conn:
        columns = [r[0] for r in conn.execute("select column_name from information_schema.columns where "
                                              "table_name = 'transaction_pages'").fetchall()]
        assert "page" not in columns
        rows = conn.execute("select read_id, transaction_count, landed_key from raw.transaction_pages "
                            "order by read_id").fetchall()
    assert rows[0] == ("20260305-r", 1, landing.page_key(read_id, 1)) and rows[1][:2] == ("old", 0)
    assert json.loads(store.get(rows[0][2]))["body"] == body


@pytest.fixture
def small_seller(tmp_path):
    """The pipeline's environment against a seller of 40 orders a day (settlements read 90 days of its money)."""
    (tmp_path / "accounts.yaml").write_text(TWO_ACCOUNTS)
    with Emulator(speed=2000, seed=7, orders_per_day=40) as emulator:
        yield emulator_env(emulator.url, tmp_path, tmp_path / "accounts.yaml"), emulator


def test_the_dagster_assets_read_load_and_build_the_money(small_seller):
    """The finances group end to end in Dagster: one run reads and loads both accounts' posted days, one lands the
    settlements, one builds the models; a run of the same backfill again reads nothing it finished."""
    pipeline_env, emulator = small_seller
    first, last = (emulator.state.clock.now() - timedelta(days=n) for n in (12, 10))
    first, last = first.date(), last.date()
    raw, settled, dbt, journals = materialize_finances(first, last, ["acme-us", "acme-eu"], environ=pipeline_env)
    landed = [e.materialization for e in raw.get_asset_materialization_events()
              if e.asset_key == LANDED_TRANSACTIONS_KEY]
    assert len(landed) == 6 and sum(m.metadata["transactions"].value for m in landed) > 0
    loaded = [m for m in raw.get_asset_materialization_events()
              if m.asset_key == TRANSACTION_RECORDS_KEY]
    assert sum(m.materialization.metadata["transactions"].value for m in loaded) == \
        sum(m.metadata["transactions"].value for m in landed)
    built = {e.asset_key.path[-1] for e in dbt.get_asset_materialization_events()}
    # What the UI plots per posted day: transactions, unmapped amounts, orders with a refund.
    metadata = {e.asset_key.path[-1]: e.materialization.metadata for e in dbt.get_asset_materialization_events()}
    assert metadata["stg_amazon_sp_api__transactions"]["in_window"].value > 0
    assert metadata["stg_amazon_sp_api__transaction_amounts"]["unmapped"].value == 0
    assert metadata["stg_amazon_sp_api__transaction_amounts"]["fees"].value > 0
    assert metadata["order_financials"]["refunded"].value >= 0 < metadata["order_financials"]["changed"].value
    assert {"order_financials", "order_item_financials", "account_fees", "finance_amount_types"} <= built
    with duckdb.connect(pipeline_env["DUCKDB_PATH"], read_only=True) as conn:
        assert conn.execute("select count(distinct account_id) from main.order_financials").fetchone() == (2,)
        assert conn.execute("select count(distinct currency_code), sum(abs(difference)) from main.settlements"
                            ).fetchone() == (3, 0)
    assert settled.success and {"settlements", "settlement_lines", "settlement_amount_types"} <= built
    # The exports: each order with money in exactly one day's Salesforce file and ERP document, its values the
    # mart's; each settlement's journal sums to its deposit.
    exports = Path(pipeline_env["EXPORT_DIR"])
    with duckdb.connect(pipeline_env["DUCKDB_PATH"], read_only=True) as conn:
        money = {r[0]: r[1:] for r in conn.execute(
            "select order_id, net_proceeds, commission + fba_fulfillment_fee + shipping_chargeback + other_fees, "
            "currency_code from main.order_financials").fetchall()}
        deposits = dict(conn.execute("select settlement_id, total_amount from main.settlements").fetchall())
    rows = [r for f in sorted(exports.glob("salesforce_financials/*/*/order_financials.csv"))
            for r in csv.DictReader(f.read_text().splitlines())]
    assert sorted(r["ExternalId__c"] for r in rows) == sorted(money)
    for r in rows:
        net, fees, currency = money[r["ExternalId__c"]]
        assert (Decimal(r["NetProceeds__c"]), Decimal(r["AmazonFees__c"]), r["FinancialsCurrency__c"]) == \
            (net, fees, currency)
    docs = [json.loads(line) for f in exports.glob("erp_financials/*/*/sales_order_financials.jsonl")
            for line in f.read_text().splitlines()]
    assert sorted(d["order_number"] for d in docs) == sorted(money)
    journal_files = sorted(exports.glob("erp_settlements/*/*/settlement_*.json"))
    assert len(journal_files) == len(deposits) and journals.success
    for f in journal_files:
        journal = json.loads(f.read_text())
        assert sum(Decimal(line["amount"]) for line in journal["lines"]) == Decimal(journal["deposit"]) == \
            deposits[journal["settlement_id"]]
    assert len(list((exports / "erp_settlements").rglob("manifest.json"))) == len(
        {f.parent for f in journal_files})
    checks = {e.check_name: e for e in dbt.get_asset_check_evaluations()}
    assert checks["amazon_money_names_are_mapped"].passed
    assert checks["amazon_money_names_are_mapped"].metadata["unmapped_names"].value == 0
    assert checks["product_charges_match_the_order_lines"].passed
    # With the orders of the same days in the marts, every shipped order's product charges are its lines' totals.
    materialize_raw_range(first, last, ["acme-us", "acme-eu"], environ=pipeline_env)
    materialize_transform(first, last, environ=pipeline_env, exports=False)
    _, _, again, _ = materialize_finances(first, last, ["acme-us", "acme-eu"], environ=pipeline_env)
    (charges,) = [e for e in again.get_asset_check_evaluations()
                  if e.check_name == "product_charges_match_the_order_lines"]
    assert charges.metadata["orders_checked"].value > 0
    # The differences it lists are orders that shipped in two parts, one of them posted outside these days.
    with duckdb.connect(pipeline_env["DUCKDB_PATH"], read_only=True) as conn:
        differing = conn.execute(PRODUCT_CHARGES_SQL).fetchall()
    assert charges.metadata["differences"].value == len(differing)
    start = datetime.combine(first, datetime.min.time(), UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    for account_id, order_id, *_ in differing:
        shipments = [p for p in emulator.backends.finances.of_order(seller_key(emulator_refresh_token(account_id)),
                                                                    order_id) if p.transaction_type == "Shipment"]
        assert len(shipments) == 2 and not all(start <= p.posted_at < end for p in shipments), order_id
    # A backfill's run made again keeps the days its first attempt finished.
    store = LocalStore(pipeline_env["LANDING_DIR"])
    tags = {"dagster/backfill": "bf-money", "dagster/asset_partition_range_start": f"acme-us|{first}",
            "dagster/asset_partition_range_end": f"acme-eu|{last}"}
    settings = Settings.from_env(pipeline_env)
    for _ in range(2):
        dg.materialize(build_assets(settings).all, selection=list(FINANCE_RAW_KEYS), tags=tags,
                       resources=build_resources(settings))
    # The two runs' reads above, and the backfill's one.
    assert len(TransactionStore(store, "acme-us", first).read_ids()) == 3


def test_the_daily_schedule_reads_each_day_at_its_ages():
    at = datetime(2026, 5, 20, 2, tzinfo=UTC)
    assert finance_days(at) == [datetime(2026, 5, 20).date() - timedelta(days=a) for a in (35, 14, 7, 3)]


SETTLEMENT_FILE = """settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\t\
transaction-type\torder-id\tamount-type\tamount-description\tamount\tposted-date-time\tsku\tquantity-purchased\t\
brand-new-column
777\t2026-03-01 00:00:00 UTC\t2026-03-15 00:00:00 UTC\t2026-03-17 00:00:00 UTC\t{total}\tEUR\t\t\t\t\t\t\t\t\t
777\t\t\t\t\t\tOrder\t302-0000001-0000001\tItemPrice\tPrincipal\t1.234,50\t2026-03-02 10:00:00 UTC\tS1\t1\tx
777\t\t\t\t\t\tOrder\t302-0000001-0000001\tItemFees\tCommission\t-185,18\t2026-03-02 10:00:00 UTC\tS1\t1\t
777\t\t\t\t\t\tFBAFees\tFBA15XYZ\tInbound Defect Fee\tBase fee\t-128,00\t2026-03-03 10:00:00 UTC\t\t0\t
"""


def land_settlement(store, account_id: str, report_id: str, text: str) -> None:
    store.put(f"settlements/{account_id}/{report_id}.tsv", text.encode("cp1252"))
    store.put(f"settlements/{account_id}/{report_id}.json", json.dumps({
        "report": {"reportId": report_id, "reportDocumentId": f"doc-{report_id}", "createdTime": "2026-03-16"},
        "charset": "cp1252", "fetched_at": "2026-03-16T06:00:00+00:00"}).encode())


def test_a_settlement_that_does_not_tie_out_stops_the_build(tmp_path, monkeypatch):
    """Bad input: an extra column, comma decimals with a thousands point, an FBA shipment id for an order id, an
    unknown transaction type; and a total its lines do not reach, which the blocking test refuses. The lines go in
    batches (two here), numbered on across them; a line longer than the header loads nothing of its file."""
    monkeypatch.setattr(settlements, "ROW_BATCH", 2)
    store, db = LocalStore(tmp_path / "landing"), str(tmp_path / "warehouse.duckdb")
    land_settlement(store, "acme-eu", "1", SETTLEMENT_FILE.format(total="921,32"))
    land_settlement(store, "acme-eu", "0", SETTLEMENT_FILE.format(total="1").replace("\tx\n", "\tx\textra\n"))
    with warehouse.connect(db) as conn:
        with pytest.raises(settlements.SettlementError, match="report 0: line 3 has 16 fields, the header 15"):
            load_settlements(conn, store, "acme-eu")
        store.delete("settlements/acme-eu/0.json")
        assert load_settlements(conn, store, "acme-eu") == 1
        assert load_settlements(conn, store, "acme-eu") == 0  # loaded once
        assert conn.execute("select report_id, landed_key from raw.settlement_reports").fetchall() == [
            ("1", "settlements/acme-eu/1.tsv")]
        assert conn.execute("select list(row_number order by row_number) from raw.settlement_rows").fetchone() == (
            [1, 2, 3, 4],)
    day = datetime(2026, 3, 2).date()
    run_dbt(db, day, day + timedelta(days=1))
    with duckdb.connect(db, read_only=True) as conn:
        assert conn.execute("select total_amount, lines_amount, difference, unmapped_lines from main.settlements"
                            ).fetchall() == [(Decimal("921.32"), Decimal("921.32"), Decimal(0), 1)]
        assert conn.execute("select order_id, fba_shipment_id, category, amount from main.settlement_lines "
                            "order by row_number").fetchall() == [
            ("302-0000001-0000001", None, "product_charges", Decimal("1234.50")),
            ("302-0000001-0000001", None, "commission", Decimal("-185.18")),
            (None, "FBA15XYZ", "unmapped", Decimal("-128.00"))]
        (row,) = conn.execute("select row_json ->> 'brand-new-column' from raw.settlement_rows "
                              "where row_number = 2").fetchall()
        assert row == ("x",)
    land_settlement(store, "acme-eu", "2", SETTLEMENT_FILE.format(total="921,33").replace("777", "778"))
    with warehouse.connect(db) as conn:
        load_settlements(conn, store, "acme-eu")
    with pytest.raises(RuntimeError, match="equals_within_minor_unit_settlements_total_amount"):
        run_dbt(db, day, day + timedelta(days=1))


def test_amazons_sandbox_transaction_is_read_field_by_field(tmp_path, finances_model):
    """The model's sandbox 200 for listTransactions, landed as a page: every field it has reaches staging, and as it
    carries no transactionId (the sandbox omits it) the record is quarantined, not dropped."""
    op = finances_model["paths"][PATH]["get"]
    (case,) = op["responses"]["200"]["x-amzn-api-sandbox"]["static"]
    store, db = LocalStore(tmp_path / "landing"), str(tmp_path / "warehouse.duckdb")
    day = datetime(2020, 7, 14).date()
    landing = TransactionStore(store, "acme-us", day)
    body = json.dumps(case["response"]).encode()
    landing.land("20200716T000000-sandbox", Page(1, {"postedAfter": "2020-07-14T00:00:00Z"}, "r-1",
                                                 datetime(2020, 7, 16, tzinfo=UTC), body, {}, None,
                                                 "listTransactions"))
    landing.finish(DayRead("acme-us", day, "20200716T000000-sandbox", 1, 1, 1, "x"))

    def transaction(work, what):
        with warehouse.connect(db) as conn:
            return work(conn)

    load_day(store, "acme-us", day, transaction)
    run_dbt(db, day, day + timedelta(days=1))
    with duckdb.connect(db, read_only=True) as conn:
        (row,) = conn.execute(
            "select transaction_type, posted_at, total_amount, currency_code, order_id, financial_event_group_id, "
            "marketplace_id, account_type, transaction_status, quarantine_reason "
            "from staging.base_amazon_sp_api__transactions").fetchall()
    assert row == ("Shipment", datetime(2020, 7, 14, 3, 35, 13, 214000, tzinfo=UTC), Decimal(10), "USD",
                   "8129762527551", "4MVaHcsAfaYAlwlaPWrXJxrfUiKfYZ2ooWtY7528FUA", "ATIV93840DER", "PAYABLE",
                   "RELEASED", "no transactionId")
