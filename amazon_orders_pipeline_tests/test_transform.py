"""dbt staging and marts through Dagster: late updates, idempotence, quarantine, ground truth, Amazon's examples."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.dbt_project import DBT_PROJECT_DIR, dbt_build_args, dbt_executable, dbt_window_vars
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.testing.runs import load_pages, materialize_raw, materialize_transform, query
from amazon_orders_pipeline.testing.truth import MARKETPLACE_ZONES as TRUTH_ZONES
from amazon_orders_pipeline.testing.truth import orders_against_truth, sections_against_truth

MART_TABLES = ("orders", "order_items", "order_addresses", "order_packages", "order_package_items",
               "order_tax_registrations")


def table_hash(db: str, table: str) -> str:
    return query(db, f"select md5(coalesce(string_agg(cast(t as varchar), '|' order by cast(t as varchar)), '')) "
                     f"from main.{table} as t")[0][0]


def check_results(result) -> dict[str, bool]:
    """Error-severity checks only: a warning (an unmapped SKU in the ERP export) does not fail a run."""
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()
            if e.severity == dg.AssetCheckSeverity.ERROR}


def test_dbt_window_vars_and_args_are_half_open_days():
    assert dbt_window_vars(date(2026, 11, 20), date(2026, 11, 23)) == {"start_date": "2026-11-20",
                                                                       "end_date": "2026-11-23"}
    args = dbt_build_args(date(2026, 11, 20), date(2026, 11, 21))
    assert args[0] == "build" and json.loads(args[2]) == {"end_date": "2026-11-21", "start_date": "2026-11-20"}
    with pytest.raises(ValueError, match="empty"):
        dbt_window_vars(date(2026, 11, 21), date(2026, 11, 21))


def test_marts_equal_the_ground_truth_for_a_week_across_two_accounts(backend_env, control):
    pipeline_env = backend_env
    first = datetime.now(UTC).date() - timedelta(days=9)
    days = [first + timedelta(days=i) for i in range(7)]
    accounts = {"acme-us": ["ATVPDKIKX0DER"], "acme-eu": ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]}
    for day in days:
        for account_id in accounts:
            materialize_raw(pipeline_env, day, account_id)
    result = materialize_transform(pipeline_env, days[0], days[-1])
    assert result.success
    checks = check_results(result)
    assert checks["raw_orders_are_all_staged_or_quarantined"] and checks["order_totals_match_their_items"]
    assert len(checks) > 15 and all(checks.values())
    db = Settings.from_env(pipeline_env).warehouse
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    for account_id, marketplaces in accounts.items():
        got, expected = orders_against_truth(db, control, account_id, start, start + timedelta(days=7), marketplaces)
        assert got == expected and got
        # Tax collection, payment, points, packages, registrations, local purchase dates (PII on for acme-eu only).
        got, expected = sections_against_truth(db, control, account_id, start, start + timedelta(days=7),
                                               marketplaces, pii=account_id == "acme-eu")
        assert got == expected and got["orders"] and got["items"] and got["packages"]
        # A business buyer's registration only where PII is on; the US has no seller VAT registration to show.
        assert {r[1] for r in got["registrations"]} == ({"BUYER", "MERCHANT"} if account_id == "acme-eu" else set())
    # Amazon collects the tax on every US line here, and on some UK and DE ones.
    shares = dict(query(db, "select account_id, count(*) filter (tax_collected_by = 'MARKETPLACE') / count(*) "
                            "from main.order_items group by all"))
    assert shares == {"acme-us": 1.0, "acme-eu": pytest.approx(0.12, abs=0.05)}
    # Pending orders keep NULL money, never 0; line totals are unit price x quantity where both are known.
    assert query(db, "select count(*) from main.orders where order_status = 'PENDING' "
                     "and order_total_amount is not null")[0][0] == 0
    assert query(db, "select count(*) from main.order_items where unit_price_amount is not null "
                     "and line_total_amount <> unit_price_amount * quantity_ordered")[0][0] == 0
    # Addresses: always city and country; PII only for the account that has it on.
    assert query(db, "select count(*) from main.order_addresses where account_id = 'acme-us' "
                     "and (recipient_name is not null or postal_code is not null or address_line1 is not null)"
                 )[0][0] == 0
    assert query(db, "select count(*), count(recipient_name) from main.order_addresses "
                     "where account_id = 'acme-eu'")[0] == query(
        db, "select count(*), count(*) from main.order_addresses where account_id = 'acme-eu'")[0]


def test_a_late_status_change_updates_the_order_without_duplicating_lines(backend_env, emulator, control):
    pipeline_env = backend_env
    day = datetime.now(UTC).date() - timedelta(days=9)
    d0 = datetime(day.year, day.month, day.day, tzinfo=UTC)
    first_look, second_look = d0 + timedelta(days=1, minutes=5), d0 + timedelta(days=3, minutes=5)
    seller = emulator.state.seller
    key = seller_key(emulator_refresh_token("acme-us"))

    def fits(o):
        early, late = o.state_as_of(first_look), o.state_as_of(second_look)
        return (o.marketplace_id == "ATVPDKIKX0DER" and early and early[1] == "PENDING" and d0 <= early[0]
                and late[1] == "SHIPPED" and d0 + timedelta(days=2) <= late[0] < d0 + timedelta(days=3))

    order = next(o for o in seller.orders_created_on(key, day) + seller.orders_created_on(key, day - timedelta(1))
                 if fits(o))
    db = Settings.from_env(pipeline_env).warehouse
    control.set_clock(first_look)
    materialize_raw(pipeline_env, day, "acme-us")
    materialize_transform(pipeline_env, day)
    assert query(db, "select order_status, order_total_amount from main.orders where order_id = ?",
                 [order.order_id]) == [("PENDING", None)]

    control.set_clock(second_look)
    materialize_raw(pipeline_env, day + timedelta(days=2), "acme-us")
    assert materialize_transform(pipeline_env, day + timedelta(days=2)).success
    status, total, partition = query(db, "select order_status, order_total_amount, last_changed_partition "
                                         "from main.orders where order_id = ?", [order.order_id])[0]
    assert status == "SHIPPED" and partition == day + timedelta(days=2)
    assert total == sum(line.proceeds_total for line in order.lines)
    lines = query(db, "select order_item_id, unit_price_amount, line_total_amount from main.order_items "
                      "where order_id = ? order by 1", [order.order_id])
    assert len(lines) == len(order.lines)
    assert [(u, t) for _, u, t in lines] == [(line.unit_price, line.item_amount) for line in order.lines]


@pytest.mark.slow  # many dbt runs
def test_rematerializing_in_any_order_gives_identical_marts(pipeline_env):
    first = datetime.now(UTC).date() - timedelta(days=8)
    days = [first + timedelta(days=i) for i in range(2)]
    for day in days:
        materialize_raw(pipeline_env, day, "acme-us")
    materialize_transform(pipeline_env, days[0], days[-1])  # one backfill run
    db = pipeline_env["DUCKDB_PATH"]
    before = {t: table_hash(db, t) for t in MART_TABLES}
    assert query(db, "select count(*) from main.orders")[0][0] > 0
    for day in (days[1], days[0]):  # then day by day, out of order
        materialize_transform(pipeline_env, day)
        assert {t: table_hash(db, t) for t in MART_TABLES} == before


GOOD = {
    "orderId": "114-0000001-0000001", "createdTime": "2026-10-01T10:00:00Z", "lastUpdatedTime": "2026-10-01T12:00:00Z",
    "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER"},
    "fulfillment": {"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT"},
    "proceeds": {"grandTotal": {"amount": "21.60", "currencyCode": "USD"}},
    "recipient": {"deliveryAddress": {"city": "Seattle", "countryCode": "US", "addressType": "RESIDENTIAL"}},
    "orderItems": [{"orderItemId": "1", "quantityOrdered": 2, "product": {
        "sellerSku": "SKU-1", "price": {"unitPrice": {"amount": "10.00", "currencyCode": "USD"}}},
        "proceeds": {"proceedsTotal": {"amount": "21.60", "currencyCode": "USD"}, "breakdowns": [
            {"type": "ITEM", "subtotal": {"amount": "20.00", "currencyCode": "USD"}},
            {"type": "TAX", "subtotal": {"amount": "1.60", "currencyCode": "USD"}}]}}],
}


def variant(order_id: str, **changes) -> dict:
    order = json.loads(json.dumps(GOOD))
    order["orderId"] = order_id
    for path, value in changes.items():
        target = order
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        if value is None:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return order


def test_bad_records_are_quarantined_with_reasons_and_the_rest_loads(pipeline_env):
    env = {**pipeline_env, "PARTITIONS_START_DATE": "2026-09-01"}
    db = env["DUCKDB_PATH"]
    day = date(2026, 10, 1)
    bad = [
        variant("114-0000002-0000002", proceeds__grandTotal__amount="12,50"),
        variant("114-0000003-0000003", lastUpdatedTime="1.569521782042E9"),
        variant("114-0000004-0000004", fulfillment__fulfillmentStatus="Canceled"),
        {k: v for k, v in GOOD.items() if k != "orderId"},
        variant("114-0000005-0000005", orderItems__0__product__price__unitPrice__amount="ten"),
        # New enum values in the sections beyond the basics: who owes the tax, where a package is.
        variant("114-0000007-0000007", orderItems__0__tax={"taxCollections": [
            {"model": "LOW_VALUE_GOODS", "responsibleParty": "Amazon Services Europe S.a.r.L."}]}),
        variant("114-0000008-0000008", packages=[{"packageReferenceId": "1", "packageStatus": {"status": "LOST"}}]),
        variant("114-0000009-0000009", packages=[{"packageReferenceId": "1", "packageStatus": {
            "status": "IN_TRANSIT", "detailedStatus": "AT_SORTING_CENTRE"}}]),
    ]
    good = [GOOD, variant("114-0000006-0000006", packages=[{
        "packageReferenceId": "P1", "carrier": "UPS", "trackingNumber": "1Z1", "shipTime": "2026-10-01T10:00:00Z",
        "packageStatus": {"status": "DELIVERED", "detailedStatus": "DELIVERED"},
        "packageItems": [{"orderItemId": "1", "quantity": 2}]}], fulfillmentOrders=[{"fulfillmentOrderId": "FO-1"}])]
    load_pages(db, "acme-us", day, [{"orders": [good[0], bad[0], bad[1]]}, {"orders": [bad[2], bad[3], good[1],
                                                                                           bad[4]]},
                                    {"orders": bad[5:]}])
    result = materialize_transform(env, day)
    assert result.success
    assert all(check_results(result).values())
    assert query(db, "select order_id from main.orders order by 1") == [(GOOD["orderId"],), ("114-0000006-0000006",)]
    reasons = query(db, "select page_number, record_index, reason, raw_json from staging.quarantine order by 1, 2")
    assert [(p, i) for p, i, _, _ in reasons] == [(1, 2), (1, 3), (2, 1), (2, 2), (2, 4), (3, 1), (3, 2), (3, 3)]
    assert [r for _, _, r, _ in reasons] == [
        "non-numeric grandTotal amount: 12,50",
        "unparseable lastUpdatedTime: 1.569521782042E9",
        "unknown fulfillmentStatus: Canceled",
        "missing orderId",
        "non-numeric unitPrice amount: ten",
        "unknown tax collection model: LOW_VALUE_GOODS",
        "unknown package status: LOST",
        "unknown package detailedStatus: AT_SORTING_CENTRE",
    ]
    assert query(db, "select order_id, package_reference_id, package_status, quantity from main.order_packages") == [
        ("114-0000006-0000006", "P1", "DELIVERED", 2)]
    assert query(db, "select fulfillment_order_ids from main.orders where order_id = '114-0000006-0000006'") == [
        (["FO-1"],)]
    assert json.loads(reasons[0][3])["orderId"] == "114-0000002-0000002"  # the raw record is kept whole
    assert query(db, "select line_total_amount, tax_amount from main.order_items where order_id = ?",
                 [GOOD["orderId"]]) == [(Decimal("20.0000"), Decimal("1.6000"))]


# (marketplace, UTC purchase time, the day Seller Central shows): each side of a daylight-saving change, and JP.
LOCAL_DAYS = [
    ("ATVPDKIKX0DER", "2026-03-08T07:30:00Z", date(2026, 3, 7)),  # 23:30 PST, the night before PDT starts
    ("ATVPDKIKX0DER", "2026-03-09T07:30:00Z", date(2026, 3, 9)),  # 00:30 PDT (PST would say the 8th)
    ("ATVPDKIKX0DER", "2026-11-01T07:30:00Z", date(2026, 11, 1)),  # 00:30 PDT, the day PST returns
    ("ATVPDKIKX0DER", "2026-11-02T07:30:00Z", date(2026, 11, 1)),  # 23:30 PST (PDT would say the 2nd)
    ("A1PA6795UKMFR9", "2026-10-24T22:30:00Z", date(2026, 10, 25)),  # 00:30 CEST
    ("A1PA6795UKMFR9", "2026-10-25T22:30:00Z", date(2026, 10, 25)),  # 23:30 CET (CEST would say the 26th)
    ("A1PA6795UKMFR9", "2026-03-28T23:30:00Z", date(2026, 3, 29)),  # 00:30 CET, the night CEST starts
    ("A1F83G8C2ARO7P", "2026-03-29T23:30:00Z", date(2026, 3, 30)),  # 00:30 BST (GMT would say the 29th)
    ("A1F83G8C2ARO7P", "2026-01-15T23:30:00Z", date(2026, 1, 15)),  # 23:30 GMT
    ("A1VC38T7YXB528", "2026-10-01T15:30:00Z", date(2026, 10, 2)),  # 00:30 JST, no daylight saving
    ("A1VC38T7YXB528", "2026-10-01T14:59:59Z", date(2026, 10, 1)),  # 23:59:59 JST
]


def test_purchase_date_local_is_the_marketplaces_day_across_daylight_saving_changes(pipeline_env):
    from zoneinfo import ZoneInfo

    env = {**pipeline_env, "PARTITIONS_START_DATE": "2026-01-01"}
    db = env["DUCKDB_PATH"]
    day = date(2026, 11, 2)
    orders = [variant(f"114-0000{n:03d}-0000001", createdTime=created, lastUpdatedTime="2026-11-02T12:00:00Z",
                      salesChannel__marketplaceId=marketplace)
              for n, (marketplace, created, _) in enumerate(LOCAL_DAYS)]
    load_pages(db, "acme-us", day, [{"orders": orders}])
    assert materialize_transform(env, day).success
    got = query(db, "select order_id, purchase_date_local, marketplace_time_zone from main.orders order by 1")
    assert [(d, zone) for _, d, zone in got] == [
        (local, TRUTH_ZONES[marketplace]) for marketplace, _, local in LOCAL_DAYS]
    # The stated days are what the time zone database says too.
    for marketplace, created, local in LOCAL_DAYS:
        assert datetime.fromisoformat(created).astimezone(ZoneInfo(TRUTH_ZONES[marketplace])).date() == local


def test_completeness_check_fails_when_records_vanish(pipeline_env):
    env = {**pipeline_env, "PARTITIONS_START_DATE": "2026-09-01"}
    db = env["DUCKDB_PATH"]
    day = date(2026, 10, 1)
    load_pages(db, "acme-us", day, [{"orders": [GOOD]}])
    assert materialize_transform(env, day).success
    with duckdb.connect(db) as conn:  # a page claims more orders than it holds: raw and staging disagree
        conn.execute("update raw.order_pages set order_count = 2")
    result = materialize_transform(env, day, raise_on_error=False)
    evaluation = next(e for e in result.get_asset_check_evaluations()
                      if e.check_name == "raw_orders_are_all_staged_or_quarantined")
    assert not evaluation.passed
    assert "raw 2, staged 1, quarantined 0" in evaluation.metadata["gaps"].value


def test_amazons_sandbox_examples_parse_field_by_field(pipeline_env, sandbox_cases):
    env = {**pipeline_env, "PARTITIONS_START_DATE": "2024-01-01"}
    db = env["DUCKDB_PATH"]
    pages = []
    for case in sandbox_cases:
        if case["api_version"] != "2026-01-01" or case["response_status"] != 200:
            continue
        body = case["response_body"]
        if case["operation"] == "searchOrders":
            pages.append(body)
        elif case["operation"] == "getOrder":
            pages.append({"orders": [body["order"]]})
    assert len(pages) == 6
    day = date(2024, 12, 25)
    load_pages(db, "sandbox", day, pages)
    result = materialize_transform(env, day)
    assert result.success and all(check_results(result).values())
    rows = {r[0]: r for r in query(
        db, "select order_id, order_status, fulfilled_by, order_total_amount, currency_code, purchased_at, "
            "last_updated_at, is_prime, is_business, marketplace_id, seller_order_id from main.orders")}
    assert len(rows) == 6 and not query(db, "select * from staging.quarantine")
    jp = rows["250-1234567-8901234"]
    assert jp[1:5] == ("SHIPPED", "AMAZON", Decimal("19940"), "JPY")
    assert jp[5] == datetime(2024, 12, 25, 2, 30, tzinfo=UTC) and jp[6] == datetime(2024, 12, 25, 6, 45, tzinfo=UTC)
    assert jp[7:] == (True, False, "A1VC38T7YXB528", "JP-ORDER-2024-001")
    br = rows["171-2345678-9012345"]
    assert br[1:5] == ("UNSHIPPED", "MERCHANT", Decimal("1599.90"), "BRL") and br[8] is True
    items = {(r[0], r[1]): r[2:] for r in query(
        db, "select order_id, order_item_id, sku, quantity_ordered, unit_price_amount, line_total_amount, "
            "tax_amount, item_proceeds_amount from main.order_items")}
    assert items[("250-1234567-8901234", "25012345678902")] == (
        "FIRE-TV-4K-MAX-JP", 2, Decimal("6980"), Decimal("13960"), None, Decimal("13960"))
    assert items[("114-9876543-1234567", "11498765431234")] == (
        "ECHO-POP-US-BLK", 1, Decimal("39.99"), Decimal("39.99"), Decimal("10.00"), Decimal("49.99"))
    address = query(db, "select city, state_or_region, country_code, address_type, address_line3, municipality, "
                        "postal_code, recipient_name from main.order_addresses where order_id = '202-7654321-1098765'")
    assert address == [("London", "England", "GB", "RESIDENTIAL", None, None, "SW1A 1AA", "Sarah Thompson")]
    # The sections beyond the basics, field by field: points (JP), a package (UK), payment, registrations and
    # invoicing (BR, TR), a marketplace-facilitator line under IOSS (TR).
    sections = {r[0]: r[1:] for r in query(
        db, "select order_id, payment_method, points_cost_amount, buyer_invoice_preference, invoice_status, "
            "purchase_date_local, marketplace_time_zone from main.orders")}
    assert sections["250-1234567-8901234"] == (None, Decimal("200"), None, None, date(2024, 12, 25), "Asia/Tokyo")
    assert sections["171-2345678-9012345"] == ("CreditCard", None, None, "PROCESSING", date(2024, 12, 22),
                                               "America/Sao_Paulo")
    assert sections["028-1234567-8901234"][2:4] == ("BUSINESS", None)
    assert sections["114-9876543-1234567"][4:] == (date(2025, 3, 10), "America/Los_Angeles")
    assert query(db, "select order_item_id, points_granted, points_cost_amount from main.order_items "
                     "where points_granted is not null order by 1") == [
        ("25012345678901", 60, Decimal("60")), ("25012345678902", 140, Decimal("140"))]
    assert query(db, "select order_id, tax_collection_model, tax_responsible_party, tax_reporting_scheme, "
                     "tax_collected_by from main.order_items where tax_collection_model is not null") == [
        ("028-1234567-8901234", "MARKETPLACE_FACILITATOR", "Amazon Services Europe S.a.r.L.", "IOSS", "MARKETPLACE")]
    assert query(db, "select count(*) from main.order_items where tax_collected_by = 'SELLER'")[0][0] > 0
    assert query(db, "select order_id, package_reference_id, carrier, tracking_number, shipping_service, "
                     "package_status, package_detailed_status, created_at, shipped_at from main.order_packages") == [
        ("202-7654321-1098765", "UK-PKG-CONSUMER-2024-002", "DPD", "15501234567890123456", "DPD Next Day Delivery",
         "IN_TRANSIT", "OUT_FOR_DELIVERY", datetime(2024, 12, 24, 19, tzinfo=UTC),
         datetime(2024, 12, 25, 14, tzinfo=UTC))]
    assert query(db, "select count(*), sum(quantity) from main.order_package_items")[0][0] > 0
    assert query(db, "select order_id, entity_type, registration_type, registration_number, legal_name, city "
                     "from main.order_tax_registrations order by all") == [
        ("028-1234567-8901234", "BUYER", "BUSINESS", "TR1234567890", "Test company name", "Istanbul"),
        ("171-2345678-9012345", "BUYER", "VAT", "1234567890", "Oliveira Tecnologia Ltda", None),
        ("171-2345678-9012345", "MARKETPLACE", "CNPJ", "15436940", None, None),
        ("171-2345678-9012345", "MERCHANT", None, None, "TechStore", None)]


def test_unit_tests_run_in_the_suite_not_in_every_pipeline_run(tmp_path):
    """The pipeline's build leaves dbt's unit tests out (fixed inputs: their result cannot change between
    partitions); here they run, against a warehouse whose models exist but hold nothing."""
    args = dbt_build_args(date(2026, 11, 20), date(2026, 11, 21))
    assert args[args.index("--exclude-resource-type") + 1] == "unit_test"
    db = str(tmp_path / "w.duckdb")
    with warehouse.connect(db) as conn:
        warehouse.ensure_raw_schema(conn)
    env = {**os.environ, "DBT_DUCKDB_PATH": db}
    for command in (["run", "--select", "+int_orders_latest"], ["test", "--select", "test_type:unit"]):
        proc = subprocess.run([dbt_executable(), *command, "--profiles-dir", ".", "--target-path",
                               str(tmp_path / "target")], cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-3000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 2 and all(r["status"] == "pass" for r in unit)


@pytest.mark.slow  # many dbt runs
def test_a_full_refresh_rebuilds_the_marts_and_no_run_changes_the_process_environment(pipeline_env):
    day = datetime.now(UTC).date() - timedelta(days=5)
    before = dict(os.environ)
    materialize_raw(pipeline_env, day, "acme-us")
    result = materialize_transform(pipeline_env, day)
    assert result.success and dict(os.environ) == before
    db = pipeline_env["DUCKDB_PATH"]
    # Each model's window counts follow from its columns; the marts name the window's changes.
    meta = {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    orders = query(db, "select count(*) from main.orders")[0][0]
    assert meta["orders"]["rows"].value == orders and meta["orders"]["changed"].value == orders > 0
    assert meta["order_items"]["changed"].value == query(db, "select count(*) from main.order_items")[0][0]
    assert meta["base_amazon_sp_api__order_records"]["in_window"].value >= orders
    # A row that no raw page holds survives an incremental run, and not a full refresh.
    with duckdb.connect(db) as conn:
        conn.execute("insert into main.orders select * replace ('STRAY-1' as order_id, "
                     "null::decimal(18, 4) as order_total_amount) from main.orders limit 1")
    assert materialize_transform(pipeline_env, day).success
    assert query(db, "select count(*) from main.orders where order_id = 'STRAY-1'")[0][0] == 1
    assert materialize_transform(pipeline_env, day, full_refresh=True).success
    assert query(db, "select count(*) from main.orders where order_id = 'STRAY-1'")[0][0] == 0
    assert query(db, "select count(*) from main.orders")[0][0] == orders


def test_each_marts_key_in_its_model_is_the_grain_its_yml_tests():
    nodes = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())["nodes"].values()
    keys = {n["name"]: n["config"]["unique_key"] for n in nodes
            if n["resource_type"] == "model" and n["fqn"][1] == "marts"}
    grains = {n["attached_node"].split(".")[-1]: n["test_metadata"]["kwargs"]["columns"] for n in nodes
              if n["resource_type"] == "test" and n.get("test_metadata", {}).get("name") == "unique_combination"}
    assert keys["orders"] == grains["orders"] == ["account_id", "order_id"]
    assert keys["order_addresses"] == grains["order_addresses"] == ["account_id", "order_id"]
    # Lines, packages and registrations are merged per order (a part gone from a later version must go), so their
    # merge key is the order, and their grain starts with it.
    assert grains["order_items"] == [*keys["order_items"], "order_item_id"]
    for part in ("order_packages", "order_package_items", "order_tax_registrations"):
        assert keys[part] == ["account_id", "order_id"] and grains[part][:2] == keys[part] and len(grains[part]) > 2


def test_every_mart_has_an_enforced_contract_and_a_type_change_fails_the_build(tmp_path):
    nodes = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())["nodes"].values()
    marts = {n["name"]: n for n in nodes if n["resource_type"] == "model" and n["fqn"][1] == "marts"}
    assert len(marts) >= 6
    for name, node in marts.items():
        assert node["contract"]["enforced"], name
        assert node["columns"] and all(c["data_type"] for c in node["columns"].values()), name
    money = {c["data_type"] for n in marts.values() for c in n["columns"].values() if c["name"].endswith("_amount")}
    counts = {c["data_type"] for n in marts.values() for c in n["columns"].values()
              if c["name"].startswith("quantity") or c["name"] in ("line_count", "quantity", "points_granted")}
    assert money == {"decimal(18,4)"} and counts == {"integer"}
    # A copy of the project whose orders mart would turn a count into a BIGINT: dbt refuses to build it.
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "orders.sql"
    model.write_text(model.read_text().replace("o.line_count,", "cast(o.line_count as bigint) as line_count,"))
    db = str(tmp_path / "w.duckdb")
    with warehouse.connect(db) as conn:
        warehouse.ensure_raw_schema(conn)
    env = {**os.environ, "DBT_DUCKDB_PATH": db}

    def run(project_dir) -> subprocess.CompletedProcess:
        return subprocess.run([dbt_executable(), "run", "--select", "+orders", "--profiles-dir", ".", "--target-path",
                               str(tmp_path / "target")], cwd=project_dir, env=env, capture_output=True, text=True)

    broken = run(project)
    assert broken.returncode != 0 and "contract" in broken.stdout.lower() and "line_count" in broken.stdout
    assert run(DBT_PROJECT_DIR).returncode == 0


def test_the_money_rules_run_in_production_as_blocking_asset_checks(pipeline_env):
    env = {**pipeline_env, "PARTITIONS_START_DATE": "2026-09-01"}
    db = env["DUCKDB_PATH"]
    day = date(2026, 10, 1)
    pending_with_money = variant("114-0000007-0000007", fulfillment__fulfillmentStatus="PENDING")
    line_off = variant("114-0000008-0000008", orderItems__0__proceeds__breakdowns__0__subtotal__amount="20.02")
    load_pages(db, "acme-us", day, [{"orders": [GOOD, pending_with_money, line_off]}])
    result = materialize_transform(env, day, raise_on_error=False)
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "null_while_pending_orders_order_total_amount" in failed
    assert any(n.startswith("equals_within_minor_unit_order_items_line_total_amount") for n in failed)
    # Blocking: the exports did not run.
    assert not [e for e in result.get_asset_materialization_events() if "export" in e.asset_key.to_user_string()]
    # A cent's rounding (v0's unit price is ItemPrice / quantity) is within the rule. The day's pages are replaced
    # and the marts rebuilt from them (a full refresh: the bad orders are in no page any more).
    load_pages(db, "acme-us", day, [{"orders": [GOOD, variant(
        "114-0000009-0000009", orderItems__0__product__price__unitPrice__amount="10.004")]}])
    result = materialize_transform(env, day, full_refresh=True)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations()
                                  if e.check_name.startswith(("null_while", "equals_within")))
