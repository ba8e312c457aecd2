"""The twelve analyst queries of docs/querying.md, run against two emulated days of two accounts, each checked against
the same answer computed in Python from the plain mart rows, so that an example cannot drift from the tables."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from amazon_orders_pipeline.local_services.production import TEST_CREDENTIALS
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.testing.env import emulator_env
from amazon_orders_pipeline.testing.runs import materialize_raw, materialize_transform
from amazon_orders_pipeline.warehouse import connect

QUERYING = Path(__file__).resolve().parents[1] / "docs" / "querying.md"


def readme_queries() -> dict[int, str]:
    text = QUERYING.read_text()
    block = re.search(r"<!-- analyst-sql:start -->\n```sql\n(.*?)```\n<!-- analyst-sql:end -->", text, re.S)
    assert block, "docs/querying.md has no analyst-sql block"
    queries = {}
    for statement in block.group(1).split(";\n"):
        statement = statement.strip()
        if statement:
            number = re.match(r"-- (\d+)\. ", statement)
            assert number, f"each query starts with '-- N. ': {statement[:60]}"
            queries[int(number.group(1))] = statement
    return queries


def rows(conn, sql: str) -> list[dict]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


@pytest.fixture(scope="module", params=["duckdb", pytest.param("ducklake", marks=pytest.mark.slow)])
def warehouse(request, tmp_path_factory):
    """Two days x two accounts through the real pipeline, against a module-wide emulator: on the DuckDB file, then
    on DuckLake (the production profile), where the same queries run unchanged."""
    from amazon_orders_pipeline.emulator.server import Emulator
    from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS

    tmp = tmp_path_factory.mktemp("analyst")
    (tmp / "accounts.yaml").write_text(TWO_ACCOUNTS)
    with Emulator(speed=2000, seed=5, orders_per_day=400) as emulator, pytest.MonkeyPatch.context() as patch:
        env = emulator_env(emulator.url, tmp, tmp / "accounts.yaml")
        if request.param == "ducklake":
            for key, value in TEST_CREDENTIALS.items():
                patch.setenv(key, value)
            env.update(request.getfixturevalue("production").lake_env("analyst"))
        first = datetime.now(UTC).date() - timedelta(days=2)  # recent enough to have unshipped orders
        days = [first, first + timedelta(days=1)]
        for day in days:
            for account_id in ("acme-us", "acme-eu"):
                materialize_raw(env, day, account_id)
        materialize_transform(env, days[0], days[-1])
        conn = connect(Settings.from_env(env).warehouse, read_only=True)
        yield conn
        conn.close()


@pytest.fixture(scope="module")
def marts(warehouse) -> dict[str, list[dict]]:
    return {name: rows(warehouse, f"select * from {name}") for name in (  # noqa: S608 (fixed names)
        "main.orders", "main.order_items", "main.order_addresses", "main.order_packages", "raw.order_pages",
        "staging.quarantine")}


def test_the_querying_page_has_twelve_numbered_queries():
    assert sorted(readme_queries()) == list(range(1, 13))


def q(warehouse, number: int) -> list[dict]:
    result = rows(warehouse, readme_queries()[number])
    assert result, f"query {number} returned nothing on emulated data"
    return result


def test_1_revenue_per_marketplace_and_currency(warehouse, marts):
    expected = defaultdict(lambda: [0, Decimal(0)])
    for o in marts["main.orders"]:
        if o["order_status"] == "SHIPPED":
            e = expected[(o["marketplace_id"], o["currency_code"])]
            e[0] += 1
            e[1] += o["order_total_amount"]
    got = {(r["marketplace_id"], r["currency_code"]): [r["orders"], r["revenue"]] for r in q(warehouse, 1)}
    assert got == dict(expected)


def test_2_orders_per_purchase_day_and_status(warehouse, marts):
    expected = Counter((o["purchase_date"], o["order_status"]) for o in marts["main.orders"])
    got = {(r["purchase_date"], r["order_status"]): r["orders"] for r in q(warehouse, 2)}
    assert got == dict(expected) and len(got) > 2


def test_3_best_selling_skus(warehouse, marts):
    units, orders = Counter(), defaultdict(set)
    for i in marts["main.order_items"]:
        units[i["sku"]] += i["quantity_ordered"]
        orders[i["sku"]].add(i["order_id"])
    expected = sorted(units.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    got = q(warehouse, 3)
    assert [(r["sku"], r["units"]) for r in got] == expected
    assert all(r["orders"] == len(orders[r["sku"]]) for r in got)


def test_4_average_order_value_per_currency(warehouse, marts):
    totals = defaultdict(list)
    for o in marts["main.orders"]:
        if o["order_total_amount"] is not None:
            totals[o["currency_code"]].append(o["order_total_amount"])
    got = q(warehouse, 4)
    assert [r["currency_code"] for r in got] == sorted(totals)
    for r in got:
        amounts = totals[r["currency_code"]]
        assert r["orders"] == len(amounts)
        assert abs(Decimal(str(r["average_order_value"])) - sum(amounts) / len(amounts)) <= Decimal("0.005")


def test_5_fulfilment_share_per_account(warehouse, marts):
    counts = Counter((o["account_id"], o["fulfilled_by"]) for o in marts["main.orders"])
    per_account = Counter(o["account_id"] for o in marts["main.orders"])
    got = q(warehouse, 5)
    assert {(r["account_id"], r["fulfilled_by"]): r["orders"] for r in got} == dict(counts)
    for r in got:
        assert abs(float(r["share"]) - counts[(r["account_id"], r["fulfilled_by"])] / per_account[r["account_id"]]
                   ) < 1e-4


def test_6_cancellation_rate_per_marketplace(warehouse, marts):
    total = Counter(o["marketplace_id"] for o in marts["main.orders"])
    cancelled = Counter(o["marketplace_id"] for o in marts["main.orders"] if o["order_status"] == "CANCELLED")
    got = q(warehouse, 6)
    assert {r["marketplace_id"]: (r["orders"], r["cancelled"]) for r in got} == {
        m: (n, cancelled[m]) for m, n in total.items()}
    assert sum(cancelled.values()) > 0, "the emulated seller cancels some orders"


def test_7_merchant_backlog(warehouse, marts):
    expected = sorted((o["purchased_at"], o["order_id"]) for o in marts["main.orders"]
                      if o["fulfilled_by"] == "MERCHANT"
                      and o["order_status"] not in ("SHIPPED", "CANCELLED", "UNFULFILLABLE"))
    assert [(r["purchased_at"], r["order_id"]) for r in q(warehouse, 7)] == expected


def test_8_orders_and_units_per_destination(warehouse, marts):
    where = {(a["account_id"], a["order_id"]): (a["country_code"], a["state_or_region"])
             for a in marts["main.order_addresses"]}
    known = {(o["account_id"], o["order_id"]) for o in marts["main.orders"]}
    orders, units = defaultdict(set), Counter()
    for i in marts["main.order_items"]:
        key = (i["account_id"], i["order_id"])
        if key in where and key in known:
            orders[where[key]].add(i["order_id"])
            units[where[key]] += i["quantity_ordered"]
    got = q(warehouse, 8)
    assert {(r["country_code"], r["state_or_region"]): (r["orders"], r["units"]) for r in got} == {
        k: (len(v), units[k]) for k, v in orders.items()}


def test_9_multi_line_orders(warehouse, marts):
    lines = Counter((i["account_id"], i["order_id"]) for i in marts["main.order_items"])
    got = {r["account_id"]: (r["orders"], r["multi_line_orders"]) for r in q(warehouse, 9)}
    expected = {}
    for o in marts["main.orders"]:
        n, multi = expected.get(o["account_id"], (0, 0))
        expected[o["account_id"]] = (n + 1, multi + (lines[(o["account_id"], o["order_id"])] > 1))
    assert got == expected and all(multi > 0 for _, multi in got.values())


def test_10_extracted_and_quarantined_per_day_and_account(warehouse, marts):
    raw, pages = Counter(), Counter()
    for p in marts["raw.order_pages"]:
        raw[(p["partition_date"], p["account_id"])] += p["order_count"]
        pages[(p["partition_date"], p["account_id"])] += 1
    quarantined = Counter((r["partition_date"], r["account_id"]) for r in marts["staging.quarantine"])
    got = q(warehouse, 10)
    assert {(r["partition_date"], r["account_id"]): (r["raw_orders"], r["pages"], r["quarantined"]) for r in got} == {
        k: (raw[k], pages[k], quarantined[k]) for k in raw}
    assert len(got) == 4


def test_11_tax_the_seller_must_remit_per_region_and_month(warehouse, marts):
    orders = {(o["account_id"], o["order_id"]): o for o in marts["main.orders"]}
    addresses = {(a["account_id"], a["order_id"]): a for a in marts["main.order_addresses"]}
    expected: dict[tuple, Decimal] = defaultdict(Decimal)
    for i in marts["main.order_items"]:
        key = (i["account_id"], i["order_id"])
        o, a = orders[key], addresses.get(key)
        if (a and i["tax_collected_by"] == "SELLER" and o["order_status"] == "SHIPPED"
                and i["tax_amount"] is not None):
            month = o["purchase_date_local"].replace(day=1)
            expected[(a["country_code"], a["state_or_region"], month, i["currency_code"])] += i["tax_amount"]
    got = {(r["country_code"], r["state_or_region"], r["month"], r["currency_code"]): r["tax_to_remit"]
           for r in q(warehouse, 11)}
    assert got == dict(expected)
    # Amazon remits all the US tax here: the US is not among the seller's own.
    assert "US" not in {country for country, *_ in got}


def test_12_packages_shipped_late_per_account_and_carrier(warehouse, marts):
    orders = {(o["account_id"], o["order_id"]): o for o in marts["main.orders"]}
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for p in marts["main.order_packages"]:
        e = expected[(p["account_id"], p["carrier"])]
        e[0] += 1
        e[1] += p["shipped_at"] > orders[(p["account_id"], p["order_id"])]["ship_by_latest_at"]
    got = {(r["account_id"], r["carrier"]): [r["packages"], r["shipped_late"]] for r in q(warehouse, 12)}
    assert got == dict(expected) and any(late for _, late in got.values())
