"""Salesforce and ERP exports: golden files, parse-back against the marts, deltas, S3 delivery, PII, guarding."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.exporters.formats import format_amount, iso_utc_millis
from amazon_orders_pipeline.exporters.mappings import DEFAULT_MAPPINGS_FILE, load_mappings
from amazon_orders_pipeline.exporters.salesforce import FIELDS
from amazon_orders_pipeline.testing.runs import load_pages, materialize_raw, materialize_transform, query

GOLDEN = Path(__file__).with_name("golden") / "exports"
# Golden files carry this suffix, so that none of them looks like a build output (a committed manifest.json).
SUFFIX = ".golden"
DAY = date(2026, 10, 1)


def money(amount, currency: str) -> dict:
    return {"amount": str(amount), "currencyCode": currency}


def item(item_id: str, sku: str, qty: int, unit: str, currency: str, tax: str = "0", shipping: str = "0",
         discount: str = "0", priced: bool = True) -> dict:
    out = {"orderItemId": item_id, "quantityOrdered": qty, "product": {"sellerSku": sku, "title": f"{sku}, boxed"}}
    if priced:
        line = Decimal(unit) * qty
        out["product"]["price"] = {"unitPrice": money(unit, currency)}
        breakdowns = [{"type": "ITEM", "subtotal": money(line, currency)}]
        if Decimal(shipping):
            breakdowns.append({"type": "SHIPPING", "subtotal": money(shipping, currency)})
        breakdowns.append({"type": "TAX", "subtotal": money(tax, currency)})
        if Decimal(discount):
            breakdowns.append({"type": "DISCOUNT", "subtotal": money(-Decimal(discount), currency)})
        total = line + Decimal(shipping) + Decimal(tax) - Decimal(discount)
        out["proceeds"] = {"proceedsTotal": money(total, currency), "breakdowns": breakdowns}
    return out


def order(order_id: str, status: str, fulfilled_by: str, marketplace: str, currency: str, items: list[dict],
          buyer: dict | None = None, address: dict | None = None, created: str = "2026-10-01T08:00:00.250Z",
          updated: str = "2026-10-01T09:30:00Z") -> dict:
    out = {"orderId": order_id, "createdTime": created, "lastUpdatedTime": updated,
           "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace},
           "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": fulfilled_by},
           "recipient": {"deliveryAddress": address or {"city": "Berlin", "countryCode": "DE",
                                                        "addressType": "RESIDENTIAL"}},
           "orderItems": items}
    if buyer:
        out["buyer"] = buyer
    totals = [Decimal(i["proceeds"]["proceedsTotal"]["amount"]) for i in items if "proceeds" in i]
    if totals:
        out["proceeds"] = {"grandTotal": money(sum(totals), currency)}
    return out


def business(order: dict, legal_name: str, kind: str, number: str) -> dict:
    order["programs"] = ["AMAZON_BUSINESS"]
    order["tax"] = {"taxRegistrations": [{"entityType": "BUYER", "legalName": legal_name,
                                          "taxRegistrationType": kind, "taxRegistrationNumber": number}]}
    return order


def facilitated(item: dict) -> dict:
    item["tax"] = {"taxCollections": [{"model": "MARKETPLACE_FACILITATOR",
                                       "responsibleParty": "Amazon Services, Inc."}]}
    return item


FULL_ADDRESS = {"name": "Jonas Schmidt", "addressLine1": "Hauptstrasse 5", "addressLine2": "Hinterhaus",
                "city": "Berlin", "stateOrRegion": "Berlin", "postalCode": "10115", "countryCode": "DE",
                "phone": "+49 30 1234567", "addressType": "RESIDENTIAL"}

# acme-eu has PII on; acme-us has it off, and its raw pages carry PII anyway, to show the exporters gate it too.
SYNTHETIC_DAY = {
    "acme-eu": [
        # A business order: the buyer's VAT registration goes on the ERP document (PII is on for acme-eu).
        business(order("302-0000001-0000001", "SHIPPED", "MERCHANT", "A1PA6795UKMFR9", "EUR",
                       [item("30200000010001", "YOGA-MAT-6MM", 2, "22.95", "EUR", tax="9.59", shipping="4.59")],
                       buyer={"buyerName": "Jonas Schmidt", "buyerEmail": "jonas.schmidt@marketplace.amazon.example"},
                       address=FULL_ADDRESS), "Schmidt Trading GmbH", "VAT", "DE123456789"),
        # JPY has no decimals; two lines, one of them with a SKU the ERP map does not know.
        order("250-0000002-0000002", "SHIPPED", "AMAZON", "A1VC38T7YXB528", "JPY",
              [item("25000000020001", "FIRE-TV-4K-MAX", 2, "6980", "JPY", tax="1396"),
               item("25000000020002", "UNMAPPED-GADGET", 1, "1500", "JPY", tax="150", discount="150")],
              buyer={"buyerName": "Aiko Sato"},
              address={"city": "Tokyo", "stateOrRegion": "Tokyo", "countryCode": "JP", "addressType": "RESIDENTIAL"}),
        order("302-0000003-0000003", "PENDING", "MERCHANT", "A1PA6795UKMFR9", "EUR",
              [item("30200000030001", "COFFEE-BEANS-1KG", 1, "18.31", "EUR", priced=False)]),
        order("302-0000004-0000004", "CANCELLED", "MERCHANT", "A1PA6795UKMFR9", "EUR",
              [item("30200000040001", "LED-DESK-LAMP", 1, "29.44", "EUR", tax="5.59")]),
    ],
    "acme-us": [
        # Amazon collects the US tax as marketplace facilitator: the line carries no tax liability. A business
        # order whose registration stays out of the files (PII is off for acme-us).
        business(order("114-0000005-0000005", "UNSHIPPED", "MERCHANT", "ATVPDKIKX0DER", "USD",
                       [facilitated(item("11400000050001", 'SKU,WITH "QUOTES"', 3, "12.49", "USD", tax="3.00"))],
                       buyer={"buyerName": "Alex Brown", "buyerEmail": "alex.brown@marketplace.amazon.example"},
                       address={**FULL_ADDRESS, "name": "Alex Brown", "city": "Seattle", "stateOrRegion": "WA",
                                "postalCode": "98101", "countryCode": "US"}), "Brown Supply LLC", "BUSINESS",
                 "US-EIN-12-3456789"),
    ],
}
PII_VALUES = ("Jonas Schmidt", "jonas.schmidt@", "Hauptstrasse", "10115", "+49 30", "Alex Brown", "alex.brown@",
              "98101", "Aiko Sato", "Schmidt Trading", "DE123456789", "Brown Supply", "US-EIN")


def write_mappings(tmp_path: Path, skus: dict[str, str], drop_status: str | None = None) -> str:
    doc = (DEFAULT_MAPPINGS_FILE.read_text()
           .replace("sku_map: sku_product_codes.default.csv", "sku_map: skus.csv"))
    if drop_status:
        doc = "\n".join(line for line in doc.splitlines() if not line.strip().startswith(f"{drop_status}:"))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sku", "product_code"])
    writer.writerows(sorted(skus.items()))
    (tmp_path / "skus.csv").write_text(out.getvalue())
    (tmp_path / "mappings.yaml").write_text(doc)
    return str(tmp_path / "mappings.yaml")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def golden_tree() -> dict[str, bytes]:
    """The golden files under the names the exporter writes."""
    return {name.removesuffix(SUFFIX): data for name, data in tree(GOLDEN).items()}


def golden(name: str) -> Path:
    return GOLDEN / f"{name}{SUFFIX}"


@pytest.fixture
def synthetic_env(pipeline_env, tmp_path) -> dict[str, str]:
    env = {**pipeline_env, "PARTITIONS_START_DATE": "2026-09-01",
           "EXPORT_MAPPINGS_FILE": write_mappings(tmp_path, {
               "YOGA-MAT-6MM": "00-0003001", "FIRE-TV-4K-MAX": "00-0001002", "COFFEE-BEANS-1KG": "00-0004001",
               "LED-DESK-LAMP": "00-0005001", 'SKU,WITH "QUOTES"': "10-0000001"})}
    for account_id, orders in SYNTHETIC_DAY.items():
        load_pages(env["DUCKDB_PATH"], account_id, DAY, [{"orders": orders}])
    return env


def check_results(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_export_files_match_the_golden_files(synthetic_env):
    result = materialize_transform(synthetic_env, DAY)
    assert result.success
    checks = check_results(result)
    assert checks["order_statuses_are_mapped_for_exports"].passed
    skus = checks["skus_are_mapped"]
    assert not skus.passed and skus.severity == dg.AssetCheckSeverity.WARN
    assert skus.metadata["unmapped_lines"].value == 1 and "UNMAPPED-GADGET: 1 lines" in skus.metadata["skus"].value
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    erp, salesforce = meta["erp_sales_order_export"], meta["salesforce_order_export"]
    assert (erp["rows"].value, erp["rows_sales_order_lines_csv"].value, erp["files"].value) == (4, 5, 6)
    assert (salesforce["rows"].value, salesforce["files"].value, salesforce["accounts"].value) == (5, 4, 2)
    got = tree(Path(synthetic_env["EXPORT_DIR"]))
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in got.items():
            golden(name).parent.mkdir(parents=True, exist_ok=True)
            golden(name).write_bytes(data)
    assert sorted(got) == sorted(golden_tree()), "the set of files differs from the golden files"
    for name, data in golden_tree().items():
        assert got[name] == data, f"{name} differs from its golden file"

    # Re-running the partition rewrites the same bytes.
    assert materialize_transform(synthetic_env, DAY).success
    assert tree(Path(synthetic_env["EXPORT_DIR"])) == got


def test_golden_files_say_what_the_loaders_need(synthetic_env):
    """The golden files checked by hand, so that a wrong golden file cannot pass unnoticed."""
    sf_eu = golden("salesforce/acme-eu/2026-10-01/external_order_sync.csv").read_bytes()
    assert b"\r" not in sf_eu and sf_eu.endswith(b"\n")
    rows = list(csv.reader(io.StringIO(sf_eu.decode("utf-8"))))
    assert rows[0] == list(FIELDS)
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["250-0000002-0000002"][6] == "16856"  # JPY: no decimals (13960 + 1396 + 1500 + 150 - 150)
    assert by_id["302-0000001-0000001"][1:8] == ["jonas.schmidt@marketplace.amazon.example", "A1PA6795UKMFR9",
                                                 "2026-10-01T08:00:00.250Z", "2026-10-01", "Shipped", "60.08", "true"]
    assert by_id["302-0000003-0000003"][5:] == ["Pending", "", "false", "false"]  # Pending: unknown total, not 0
    assert by_id["302-0000004-0000004"][5:7] == ["Cancelled", "35.03"]
    us = list(csv.DictReader(io.StringIO(
        golden("salesforce/acme-us/2026-10-01/external_order_sync.csv").read_text())))
    assert us == [{"ExternalId__c": "114-0000005-0000005", "CustomerEmail__c": "", "MarketplaceId__c": "ATVPDKIKX0DER",
                   "OrderDate__c": "2026-10-01T08:00:00.250Z", "OrderDateLocal__c": "2026-10-01",
                   "OrderStatus__c": "Unshipped", "OrderTotal__c": "40.47", "IsBusiness__c": "true",
                   "SyncCompleted__c": "false"}]
    manifest = json.loads(golden("salesforce/acme-eu/2026-10-01/manifest.json").read_text())
    assert {k: manifest[k] for k in ("object", "operation", "externalIdFieldName", "lineEnding")} == {
        "object": "External_Order_Sync__c", "operation": "upsert", "externalIdFieldName": "ExternalId__c",
        "lineEnding": "LF"}
    assert manifest["files"]["external_order_sync.csv"]["rows"] == 4

    docs = [json.loads(line) for line in
            golden("erp/acme-eu/2026-10-01/sales_orders.jsonl").read_text().splitlines()]
    assert [d["number"] for d in docs] == ["250-0000002-0000002", "302-0000001-0000001", "302-0000004-0000004"]
    jp, de, cancelled = docs
    assert jp["fulfilled_by_amazon"] is True and de["fulfilled_by_amazon"] is False
    assert jp["currency"] == "JPY" and jp["total"] == "16856"
    assert [(x["sku"], x["product_code"], x["quantity"], x["price"], x["amount"]) for x in jp["lines"]] == [
        ("FIRE-TV-4K-MAX", "00-0001002", 2, "6980", "13960"), ("UNMAPPED-GADGET", "", 1, "1500", "1500")]
    assert (de["lines"][0]["price"], de["lines"][0]["amount"]) == ("22.95", "45.90")  # price x quantity
    assert de["customer"]["name"] == "Jonas Schmidt" and de["customer"]["postal_code"] == "10115"
    # A seller-collected line: the tax is the seller's liability. A business order carries the buyer's registration.
    assert {k: de["lines"][0][k] for k in ("tax", "tax_collected_by", "tax_liability")} == {
        "tax": "9.59", "tax_collected_by": "SELLER", "tax_liability": "9.59"}
    assert de["business"] is True and de["buyer_tax_registration"] == {
        "type": "VAT", "number": "DE123456789", "legal_name": "Schmidt Trading GmbH"}
    assert jp["business"] is False and jp["buyer_tax_registration"] is None
    assert cancelled["status"] == "cancelled" and cancelled["amazon_status"] == "CANCELLED"
    us_doc = json.loads(golden("erp/acme-us/2026-10-01/sales_orders.jsonl").read_text())
    assert us_doc["customer"] == {"name": None, "email": None, "phone": None, "address_lines": [],
                                  "postal_code": None, "city": "Seattle", "state_or_region": "WA",
                                  "country_code": "US"}
    # Amazon collects the US tax as marketplace facilitator: the seller books none of it.
    assert {k: us_doc["lines"][0][k] for k in ("tax", "tax_collected_by", "tax_responsible_party",
                                               "tax_liability")} == {
        "tax": "3.00", "tax_collected_by": "MARKETPLACE", "tax_responsible_party": "Amazon Services, Inc.",
        "tax_liability": "0.00"}
    assert us_doc["business"] is True and us_doc["buyer_tax_registration"] is None  # PII off for acme-us
    lines = golden("erp/acme-us/2026-10-01/sales_order_lines.csv").read_text()
    assert '"SKU,WITH ""QUOTES"""' in lines  # RFC 4180 quoting
    assert list(csv.DictReader(io.StringIO(lines)))[0]["tax_liability"] == "0.00"
    assert json.loads(golden("erp/acme-eu/2026-10-01/manifest.json").read_text())["unmapped_skus"] == {
        "UNMAPPED-GADGET": 1}
    for path in golden("salesforce/acme-us").rglob("*"):
        if path.is_file():
            assert not any(v in path.read_text() for v in PII_VALUES), f"PII in {path}"
    for path in golden("erp/acme-us").rglob("*"):
        if path.is_file():
            assert not any(v in path.read_text() for v in PII_VALUES), f"PII in {path}"


def test_an_unmapped_status_blocks_the_exports_and_names_the_status(synthetic_env, tmp_path):
    env = {**synthetic_env, "EXPORT_MAPPINGS_FILE": write_mappings(tmp_path, {}, drop_status="CANCELLED")}
    result = materialize_transform(env, DAY, raise_on_error=False)
    check = check_results(result)["order_statuses_are_mapped_for_exports"]
    assert not check.passed
    assert check.metadata["unmapped"].value == "salesforce: CANCELLED; erp: CANCELLED"
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey(["orders"]) in materialized
    assert dg.AssetKey(["salesforce_order_export"]) not in materialized
    assert not Path(env["EXPORT_DIR"]).exists()


def test_failed_completeness_blocks_the_exports(synthetic_env):
    assert materialize_transform(synthetic_env, DAY).success
    shutil.rmtree(synthetic_env["EXPORT_DIR"])
    with duckdb.connect(synthetic_env["DUCKDB_PATH"]) as conn:  # raw claims an order that never reached staging
        conn.execute("update raw.order_pages set order_count = order_count + 1 where account_id = 'acme-us'")
    result = materialize_transform(synthetic_env, DAY, raise_on_error=False)
    assert not result.success
    assert not check_results(result)["raw_orders_are_all_staged_or_quarantined"].passed
    assert not Path(synthetic_env["EXPORT_DIR"]).exists()


def test_failed_totals_block_the_exports(synthetic_env):
    bad = order("114-0000009-0000009", "SHIPPED", "MERCHANT", "ATVPDKIKX0DER", "USD",
                [item("11400000090001", "YOGA-MAT-6MM", 1, "24.95", "USD", tax="2.00")])
    bad["proceeds"]["grandTotal"]["amount"] = "27.95"  # one dollar more than its lines
    load_pages(synthetic_env["DUCKDB_PATH"], "acme-us", DAY, [{"orders": SYNTHETIC_DAY["acme-us"] + [bad]}])
    result = materialize_transform(synthetic_env, DAY, raise_on_error=False)
    totals = check_results(result)["order_totals_match_their_items"]
    assert not totals.passed and "114-0000009-0000009: total 27.9500 USD" in totals.metadata["failures"].value
    assert not Path(synthetic_env["EXPORT_DIR"]).exists()


def test_emulated_week_exports_parse_back_into_the_marts_without_pii_or_secrets(pipeline_env, emulator,
                                                                                 monkeypatch):
    secret, client_secret = "Atzr|refresh-SECRET-77aa", "amzn1.oa2-cs.v1.CLIENT-SECRET-77bb"
    monkeypatch.setenv("SP_API_ACME_US_CLIENT_ID", "amzn1.application-oa2-client.test")
    monkeypatch.setenv("SP_API_ACME_US_CLIENT_SECRET", client_secret)
    monkeypatch.setenv("SP_API_ACME_US_REFRESH_TOKEN", secret)
    days = [datetime.now(UTC).date() - timedelta(days=d) for d in (5, 4)]
    for day in days:
        for account_id in ("acme-us", "acme-eu"):
            materialize_raw(pipeline_env, day, account_id)
    assert materialize_transform(pipeline_env, days[0], days[-1]).success
    db, root = pipeline_env["DUCKDB_PATH"], Path(pipeline_env["EXPORT_DIR"])
    mappings = load_mappings(DEFAULT_MAPPINGS_FILE)
    for day in days:
        for account_id in ("acme-us", "acme-eu"):
            folder = root / "salesforce" / account_id / day.isoformat()
            parsed = list(csv.DictReader(io.StringIO((folder / "external_order_sync.csv").read_text())))
            marts = query(db, "select o.order_id, coalesce(a.buyer_email, ''), o.marketplace_id, o.purchased_at, "
                              "o.purchase_date_local, o.order_status, o.order_total_amount, o.currency_code, "
                              "o.is_business from main.orders as o "
                              "left join main.order_addresses as a using (account_id, order_id) "
                              "where o.account_id = ? and o.last_changed_partition = ? order by 1",
                          [account_id, day])
            assert marts, "every emulated day has orders"
            assert [list(r.values()) for r in parsed] == [
                [i, e if account_id == "acme-eu" else "", m, iso_utc_millis(t), local.isoformat(),
                 mappings.status("salesforce", s), format_amount(total, c, max_digits=2), str(b).lower(), "false"]
                for i, e, m, t, local, s, total, c, b in marts]
            manifest = json.loads((folder / "manifest.json").read_text())
            assert manifest["files"]["external_order_sync.csv"]["rows"] == len(marts)
            erp = root / "erp" / account_id / day.isoformat()
            docs = [json.loads(x) for x in (erp / "sales_orders.jsonl").read_text().splitlines()]
            assert [d["number"] for d in docs] == [m[0] for m in marts if m[5] not in ("PENDING",
                                                                                       "PENDING_AVAILABILITY")]
            for doc in docs:
                # The buyer's registration on business orders where PII is on, never where it is off.
                assert (doc["buyer_tax_registration"] is not None) == (doc["business"] and account_id == "acme-eu")
                for line in doc["lines"]:
                    if line["price"] is not None:
                        assert Decimal(line["amount"]) == Decimal(line["price"]) * line["quantity"]
                    # Tax Amazon collects is no liability of the seller's; the seller's own tax is.
                    liability = Decimal(0) if line["tax_collected_by"] == "MARKETPLACE" else Decimal(line["tax"] or 0)
                    assert Decimal(line["tax_liability"] or 0) == liability
            collectors = {line["tax_collected_by"] for d in docs for line in d["lines"]}
            assert collectors == ({"MARKETPLACE"} if account_id == "acme-us" else {"MARKETPLACE", "SELLER"})
    us_text = "".join(p.read_text() for p in (root / "salesforce" / "acme-us").rglob("*") if p.is_file())
    us_text += "".join(p.read_text() for p in (root / "erp" / "acme-us").rglob("*") if p.is_file())
    names = [n for (n,) in query(db, "select distinct buyer_name from main.order_addresses where buyer_name "
                                     "is not null")]
    assert names, "acme-eu has PII on, so the marts hold buyer names to look for"
    assert "@" not in us_text and not any(n in us_text for n in names)
    everything = "".join(p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file())
    issued = list(emulator.state.issued_tokens)
    assert issued and not any(s in everything for s in [secret, client_secret, *issued])


@pytest.mark.slow  # three days through the pipeline
def test_a_status_change_two_days_later_moves_the_order_to_that_days_files(pipeline_env, emulator, control):
    day = datetime.now(UTC).date() - timedelta(days=9)
    d0 = datetime(day.year, day.month, day.day, tzinfo=UTC)
    first_look, second_look = d0 + timedelta(days=1, minutes=5), d0 + timedelta(days=3, minutes=5)
    key = seller_key(emulator_refresh_token("acme-us"))
    seller = emulator.state.seller

    def fits(o):
        early, late = o.state_as_of(first_look), o.state_as_of(second_look)
        return (o.marketplace_id == "ATVPDKIKX0DER" and early and early[1] == "UNSHIPPED" and d0 <= early[0]
                and late[1] in ("SHIPPED", "CANCELLED") and d0 + timedelta(days=2) <= late[0] < d0 + timedelta(days=3))

    order_ = next(o for o in seller.orders_created_on(key, day) if fits(o))
    root = Path(pipeline_env["EXPORT_DIR"])

    def ids(system_file: str, on: date) -> dict[str, str]:
        text = (root / "salesforce" / "acme-us" / on.isoformat() / system_file).read_text()
        return {r["ExternalId__c"]: r["OrderStatus__c"] for r in csv.DictReader(io.StringIO(text))}

    control.set_clock(first_look)
    materialize_raw(pipeline_env, day, "acme-us")
    assert materialize_transform(pipeline_env, day).success
    assert ids("external_order_sync.csv", day)[order_.order_id] == "Unshipped"

    control.set_clock(second_look)
    later = day + timedelta(days=2)
    materialize_raw(pipeline_env, later, "acme-us")
    assert materialize_transform(pipeline_env, later).success
    assert materialize_transform(pipeline_env, day).success  # D rewritten after the change
    final = order_.state_as_of(second_look)[1]
    assert ids("external_order_sync.csv", later)[order_.order_id] == final.title()
    assert order_.order_id not in ids("external_order_sync.csv", day)


def test_exports_go_to_s3_through_moto(synthetic_env, moto_s3):
    endpoint, client = moto_s3
    client.create_bucket(Bucket="exports")
    env = {**synthetic_env, "EXPORT_S3_URI": "s3://exports/amazon", "EXPORT_S3_ENDPOINT_URL": endpoint}
    assert materialize_transform(env, DAY).success
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="exports")["Contents"])
    expected = golden_tree()
    assert keys == sorted(f"amazon/{name}" for name in expected)
    for name, data in expected.items():
        assert client.get_object(Bucket="exports", Key=f"amazon/{name}")["Body"].read() == data
    assert not Path(env["EXPORT_DIR"]).exists()


@pytest.mark.parametrize("included", [False, True])
def test_multi_channel_orders_stay_in_the_marts_and_out_of_the_exports_unless_asked_for(synthetic_env, included):
    """A web shop's own order that Amazon ships (MCF) comes back through the Orders API as an Amazon-fulfilled order
    of the NON_AMAZON channel: the marts keep it, the exports leave it out (the shop has booked that sale)."""
    mcf = order("114-0000010-0000010", "SHIPPED", "AMAZON", "ATVPDKIKX0DER", "USD",
                [item("11400000100001", "YOGA-MAT-6MM", 1, "24.95", "USD", tax="2.00")])
    mcf["salesChannel"] = {"channelName": "NON_AMAZON", "marketplaceId": "ATVPDKIKX0DER"}
    load_pages(synthetic_env["DUCKDB_PATH"], "acme-us", DAY, [{"orders": SYNTHETIC_DAY["acme-us"] + [mcf]}])
    env = {**synthetic_env, "EXPORT_MCF_ORDERS": "true" if included else "false"}
    assert materialize_transform(env, DAY).success
    assert query(env["DUCKDB_PATH"], "select sales_channel, fulfilled_by from orders where order_id = ?",
                 [mcf["orderId"]]) == [("NON_AMAZON", "AMAZON")]
    exported = tree(Path(env["EXPORT_DIR"]))
    salesforce = exported[f"salesforce/acme-us/{DAY}/external_order_sync.csv"].decode()
    erp = exported[f"erp/acme-us/{DAY}/sales_order_lines.csv"].decode()
    assert (mcf["orderId"] in salesforce, mcf["orderId"] in erp) == (included, included)
    assert "114-0000005-0000005" in salesforce and "114-0000005-0000005" in erp  # the Amazon-channel order stays
