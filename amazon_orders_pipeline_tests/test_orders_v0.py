"""Orders API v0: the emulator against Amazon's v0 and Tokens models, the v0 extraction with its RDT, and the same
seller through either API giving the same marts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.extract import PageStore, extract_window, landed_window
from amazon_orders_pipeline.sp_api import LwaCredentials, RetryPolicy, SpApiClient
from amazon_orders_pipeline.sp_api.tokens import RestrictedDataToken
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.conformance import get, token, validate, window
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.env import emulator_env
from amazon_orders_pipeline.testing.runs import materialize_raw, materialize_transform, query
from amazon_orders_pipeline.testing.truth import control_truth, orders_against_truth
from amazon_orders_pipeline.warehouse import replace_partition

from .spapi_models import load as load_model

ORDERS = "/orders/v0/orders"
RDT = "/tokens/2021-03-01/restrictedDataToken"
PII_RESOURCES = [{"method": "GET", "path": ORDERS, "dataElements": ["buyerInfo", "shippingAddress"]},
                 {"method": "GET", "path": ORDERS + "/{orderId}/orderItems", "dataElements": ["buyerInfo"]}]
# An account, and a refresh token, is one region: these tests use the EU's (two currencies).
MARKETPLACES = ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]
# What v0 does not say the way v2026 does, so the marts differ there by design (docs/orders-v0.md: "Orders API v0"):
# - ship-by / deliver-by windows: v0 gives them for seller-fulfilled orders only, and no LatestDeliveryDate for
#   Pending or Canceled orders;
# - api_version and fetched_at describe the fetch, not the order.
# v0's TaxCollection knows Amazon's US entity only: outside the US, v0 cannot say Amazon collects the tax (below).
V0_UNSAID_TAX_COLUMNS = {"tax_collection_model", "tax_responsible_party", "tax_collected_by"}
# payment_method: v0 names no method for a card ("Standard"); where it names one, the two agree (tested below).
V0_ONLY_DIFFERENT_ORDER_COLUMNS = {"ship_by_earliest_at", "ship_by_latest_at", "deliver_by_earliest_at",
                                   "deliver_by_latest_at", "api_version", "fetched_at", "payment_method"}


@pytest.fixture(scope="module")
def v0_model() -> dict:
    return load_model("ordersV0.json")


@pytest.fixture(scope="module")
def tokens_model() -> dict:
    return load_model("tokens_2021-03-01.json")


def v0_window(days_ago: int = 3) -> dict:
    w = window(days_ago)
    return {"LastUpdatedAfter": w["lastUpdatedAfter"], "LastUpdatedBefore": w["lastUpdatedBefore"],
            "MarketplaceIds": ",".join(MARKETPLACES)}


def create_rdt(url: str, access: str, resources: list[dict]) -> requests.Response:
    return requests.post(url + RDT, json={"restrictedResources": resources},
                         headers={"x-amz-access-token": access}, timeout=10)


def v0_response_schema(model: dict, path: str, status: int) -> str:
    return model["paths"][path]["get"]["responses"][str(status)]["schema"]["$ref"].rsplit("/", 1)[-1]


class TestEmulatorSpeaksV0:
    def test_every_v0_endpoint_and_status_validates_against_the_models(self, emulator, v0_model, tokens_model):
        url, access = emulator.url, token(emulator.url)
        emulator.state.v0_items_page_size = 1
        seen = set()

        def check(template: str, resp: requests.Response) -> dict:
            body = resp.json()
            validate(v0_model, v0_response_schema(v0_model, template, resp.status_code), body)
            assert resp.headers.get("x-amzn-RequestId")
            seen.add((template, resp.status_code))
            return body

        first = check(ORDERS, get(url, ORDERS, access, MaxResultsPerPage=40, **v0_window()))["payload"]
        assert len(first["Orders"]) == 40 and first["NextToken"] and first["LastUpdatedBefore"]
        assert float(get(url, ORDERS, access, **v0_window()).headers["x-amzn-RateLimit-Limit"]) == pytest.approx(
            0.0167 * 2000)
        second = check(ORDERS, get(url, ORDERS, access, NextToken=first["NextToken"], MaxResultsPerPage=40,
                                   **v0_window()))["payload"]
        assert not {o["AmazonOrderId"] for o in first["Orders"]} & {o["AmazonOrderId"] for o in second["Orders"]}
        # Enums, PascalCase, strings-for-money as the model spells them; no PII without an RDT.
        orders = first["Orders"] + second["Orders"]
        assert {o["OrderStatus"] for o in orders} <= {"Pending", "Unshipped", "PartiallyShipped", "Shipped",
                                                      "Canceled"}
        assert {o["FulfillmentChannel"] for o in orders} == {"AFN", "MFN"}
        assert not any("BuyerInfo" in o or "Name" in o.get("ShippingAddress", {}) for o in orders)
        assert all("OrderTotal" not in o for o in orders if o["OrderStatus"] == "Pending")

        multi = next(o for o in orders if o["OrderStatus"] == "Shipped" and o["NumberOfItemsShipped"] > 1)
        items_path = ORDERS + "/{orderId}/orderItems"
        page = check(items_path, get(url, f"{ORDERS}/{multi['AmazonOrderId']}/orderItems", access))["payload"]
        items = page["OrderItems"]
        while page.get("NextToken"):  # one item per page here, so paging is exercised
            page = check(items_path, get(url, f"{ORDERS}/{multi['AmazonOrderId']}/orderItems", access,
                                         NextToken=page["NextToken"]))["payload"]
            items += page["OrderItems"]
        assert sum(i["QuantityOrdered"] for i in items) == multi["NumberOfItemsShipped"]
        # ItemPrice is the line total; the lines' proceeds add up to the order total.
        proceeds = sum(Decimal(i["ItemPrice"]["Amount"]) + Decimal(i["ItemTax"]["Amount"])
                       + Decimal(i.get("ShippingPrice", {}).get("Amount", "0"))
                       + Decimal(i.get("ShippingTax", {}).get("Amount", "0"))
                       - Decimal(i.get("PromotionDiscount", {}).get("Amount", "0"))
                       - Decimal(i.get("PromotionDiscountTax", {}).get("Amount", "0")) for i in items)
        assert proceeds == Decimal(multi["OrderTotal"]["Amount"])

        address_path = ORDERS + "/{orderId}/address"
        plain = check(address_path, get(url, f"{ORDERS}/{multi['AmazonOrderId']}/address", access))["payload"]
        assert set(plain["ShippingAddress"]) == {"City", "StateOrRegion", "PostalCode", "CountryCode"}
        check(items_path, get(url, f"{ORDERS}/999-0000000-0000000/orderItems", access))  # 404
        check(address_path, get(url, f"{ORDERS}/not-an-id/address", access))  # 400
        check(ORDERS, get(url, ORDERS, access, CreatedAfter="TEST_CASE_400", MarketplaceIds=MARKETPLACES[0]))
        check(ORDERS, get(url, ORDERS, None, **v0_window()))  # 403
        control = EmulatorControl(emulator)
        for fault in ("throttle", "server_error", "unavailable"):
            control.faults(**{fault: 1.0})
            check(ORDERS, get(url, ORDERS, access, **v0_window()))
        control.faults()
        assert {s for t, s in seen if t == ORDERS} == {200, 400, 403, 429, 500, 503}

        rdt = create_rdt(url, access, PII_RESOURCES)
        assert rdt.status_code == 200 and float(rdt.headers["x-amzn-RateLimit-Limit"]) > 0
        validate(tokens_model, "CreateRestrictedDataTokenResponse", rdt.json())
        assert rdt.json()["expiresIn"] == 3600 and rdt.json()["restrictedDataToken"].startswith("Atz.sprdt|")
        bad = create_rdt(url, access, [{"method": "", "path": "/orders/v0/orders"}])
        assert bad.status_code == 400
        validate(tokens_model, "ErrorList", bad.json())

    def test_the_v0_sandbox_examples_pass_the_validator_and_a_broken_one_does_not(self, v0_model, sandbox_cases):
        import jsonschema

        cases = [c for c in sandbox_cases if c["api_version"] == "v0" and c["operation"] in (
            "getOrders", "getOrderItems", "getOrderAddress") and c["response_status"] == 200]
        assert len(cases) == 5
        for case in cases:
            validate(v0_model, v0_response_schema(v0_model, case["path"], 200), case["response_body"])
        broken = json.loads(json.dumps(cases[0]["response_body"]))
        del broken["payload"]["Orders"][0]["OrderStatus"]
        with pytest.raises(jsonschema.ValidationError):
            validate(v0_model, "GetOrdersResponse", broken)

    @pytest.mark.parametrize("params, fragment", [
        ({"LastUpdatedAfter": "2026-11-01T00:00:00Z"}, "MarketplaceIds is required"),
        ({"MarketplaceIds": "ATVPDKIKX0DER"}, "Exactly one of CreatedAfter and LastUpdatedAfter"),
        ({"MarketplaceIds": ",".join(["ATVPDKIKX0DER"] * 51), "LastUpdatedAfter": "2026-11-01T00:00:00Z"}, "50"),
        ({"MarketplaceIds": "ATVPDKIKX0DER", "CreatedAfter": "2026-11-01T00:00:00Z",
          "LastUpdatedBefore": "2026-11-02T00:00:00Z"}, "cannot be set"),
        ({"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2026-11-01T00:00:00Z",
          "OrderStatuses": "CANCELLED"}, "OrderStatuses"),
        ({"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2026-11-01T00:00:00Z",
          "NextToken": "bm90LWEtdG9rZW4"}, "NextToken"),
        ({"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2026-11-01T00:00:00Z",
          "LastUpdatedBefore": "2999-11-01T00:00:00Z"}, "two minutes"),
    ])
    def test_bad_getorders_parameters_are_400(self, emulator, params, fragment):
        resp = get(emulator.url, ORDERS, token(emulator.url), **params)
        assert resp.status_code == 400 and fragment in resp.json()["errors"][0]["details"]

    def test_v0_refuses_offsets_as_amazon_does_and_reads_plain_times_as_utc(self, emulator):
        access = token(emulator.url)
        with_z = get(emulator.url, ORDERS, access, **v0_window(), MaxResultsPerPage=100)
        naive = {k: v.rstrip("Z") if k.startswith("Last") else v for k, v in v0_window().items()}
        plain = get(emulator.url, ORDERS, access, **naive, MaxResultsPerPage=100)
        assert plain.status_code == with_z.status_code == 200
        assert plain.json()["payload"]["Orders"] == with_z.json()["payload"]["Orders"]
        offset = {**v0_window(), "LastUpdatedAfter": v0_window()["LastUpdatedAfter"].replace("Z", "+00:00")}
        refused = get(emulator.url, ORDERS, access, **offset)
        assert (refused.status_code, refused.json()) == (400, {"errors": [
            {"code": "InvalidInput", "message": "timestamp must follow ISO8601", "details": ""}]})

    def test_getorders_pages_with_only_the_token_and_marketplaces_and_ignores_unknown_parameters(self, emulator):
        access = token(emulator.url)

        def ids(first: dict, page_params) -> list[str]:
            got, params = [], first
            while True:
                resp = get(emulator.url, ORDERS, access, **params)
                assert resp.status_code == 200, resp.text
                payload = resp.json()["payload"]
                got += [o["AmazonOrderId"] for o in payload["Orders"]]
                if "NextToken" not in payload:
                    return got
                params = page_params(payload["NextToken"])

        first = {**v0_window(), "MaxResultsPerPage": 20}
        full = ids(first, lambda t: {**first, "NextToken": t})
        assert len(full) > 40
        # As Amazon's samples and common clients page: NextToken and MarketplaceIds, plus what a client adds.
        assert ids({**first, "SomeClientFlag": "1"}, lambda t: {
            "NextToken": t, "MarketplaceIds": first["MarketplaceIds"], "MarketplaceId": MARKETPLACES[0]}) == full

    def test_pii_only_with_an_rdt_that_covers_the_path(self, emulator):
        url, access = emulator.url, token(emulator.url)
        rdt = create_rdt(url, access, PII_RESOURCES).json()["restrictedDataToken"]
        orders = get(url, ORDERS, rdt, **v0_window())
        assert orders.status_code == 200
        shipped = [o for o in orders.json()["payload"]["Orders"] if o["OrderStatus"] == "Shipped"]
        assert shipped and all(o["ShippingAddress"]["Name"] and o["BuyerInfo"]["BuyerName"] for o in shipped)
        # The generic {orderId} path covers every order's items; it does not cover the address operation.
        order_id = shipped[0]["AmazonOrderId"]
        assert get(url, f"{ORDERS}/{order_id}/orderItems", rdt).status_code == 200
        assert get(url, f"{ORDERS}/{order_id}/address", rdt).status_code == 403
        # An RDT is no access token for v2026, and a refused role is a 403 from the Tokens API.
        assert get(url, "/orders/2026-01-01/orders", rdt, **window()).status_code == 403
        EmulatorControl(emulator).faults(deny_rdt=True)
        denied = create_rdt(url, access, PII_RESOURCES)
        assert denied.status_code == 403 and denied.json()["errors"][0]["code"] == "Unauthorized"


def v0_client(emulator: Emulator, account_id: str = "acme", **retry) -> SpApiClient:
    return SpApiClient.for_credentials(emulator.url, f"{emulator.url}/auth/o2/token",
                                       LwaCredentials("c", "s", emulator_refresh_token(account_id)),
                                       retry=RetryPolicy(base_delay_s=0.01, **retry))


def extracted_orders(store, result) -> dict[str, tuple[dict, list]]:
    window = landed_window(PageStore(store, result.account_id, result.partition_date), result.attempt_id,
                           len(result.pages))
    orders = {}
    for page, body in window.pages:
        if page.operation == "getOrders":
            for o in json.loads(body)["payload"]["Orders"]:
                orders[o["AmazonOrderId"]] = (o, window.order_items.get(o["AmazonOrderId"]))
    return orders


class TestV0Extraction:
    def test_every_order_lands_with_all_its_items_and_one_rdt_serves_the_window(self, emulator, control, tmp_path,
                                                                               past_day):
        emulator.state.v0_items_page_size = 2
        store = LocalStore(tmp_path)
        result = extract_window(v0_client(emulator), store, account_id="acme", day=past_day,
                                marketplace_ids=MARKETPLACES, pii=True, api_version="v0")
        assert result.api_version == "v0" and not result.warnings and not result.pii_refused
        truth = {o["orderId"]: o for o in control.ground_truth_day("acme", past_day, MARKETPLACES)}
        got = extracted_orders(store, result)
        assert set(got) == set(truth) and len(truth) > 150
        for order_id, (_, items) in got.items():
            assert [i["OrderItemId"] for i in items] == [i["orderItemId"] for i in truth[order_id]["orderItems"]]
        stats = control.stats()
        assert stats["createRestrictedDataToken.200"] == 1  # one RDT, cached for the window
        assert stats["getOrderItems.200"] > len(truth)  # orders with 3+ lines took two item pages
        assert all(p.redacted is False and p.api_version == "v0" for p in result.pages)

    def test_a_failed_run_resumes_with_the_items_it_already_landed(self, emulator, control, tmp_path, past_day):
        store = LocalStore(tmp_path)
        control.faults(server_error=0.02, seed=3)
        with pytest.raises(Exception, match="could not be fetched|items of order"):
            extract_window(v0_client(emulator, max_attempts=1), store, account_id="acme", day=past_day,
                           marketplace_ids=MARKETPLACES, pii=False, api_version="v0")
        first_calls = control.stats()["getOrderItems.calls"]
        control.faults()
        result = extract_window(v0_client(emulator), store, account_id="acme", day=past_day,
                                marketplace_ids=MARKETPLACES, pii=False, api_version="v0")
        truth = control.ground_truth_day("acme", past_day, MARKETPLACES)
        got = extracted_orders(store, result)
        assert set(got) == {o["orderId"] for o in truth} and all(items for _, items in got.values())
        resumed_calls = control.stats()["getOrderItems.calls"] - first_calls
        assert 0 < resumed_calls < len(truth)  # items landed by the failed run were not fetched again

    def test_a_run_that_died_fetching_items_after_the_last_page_fetches_no_page_again(self, emulator, control,
                                                                                       tmp_path, past_day):
        store = LocalStore(tmp_path)

        def fail_items_after_the_last_page(progress):
            if progress.remaining_pages == 0:
                control.faults(server_error=1.0)

        with pytest.raises(Exception, match="items of order"):
            extract_window(v0_client(emulator, max_attempts=1), store, account_id="acme", day=past_day,
                           marketplace_ids=MARKETPLACES, pii=False, api_version="v0",
                           on_page=fail_items_after_the_last_page)
        pages_before = control.stats()["getOrders.calls"]
        control.faults()
        result = extract_window(v0_client(emulator), store, account_id="acme", day=past_day,
                                marketplace_ids=MARKETPLACES, pii=False, api_version="v0")
        assert control.stats()["getOrders.calls"] == pages_before  # only the missing items were fetched
        truth = control.ground_truth_day("acme", past_day, MARKETPLACES)
        assert result.orders == len(truth) == len(extracted_orders(store, result))
        assert all(items for _, items in extracted_orders(store, result).values())

    def test_pii_off_asks_for_no_rdt_and_lands_no_pii(self, emulator, control, tmp_path, past_day):
        store = LocalStore(tmp_path)
        result = extract_window(v0_client(emulator), store, account_id="acme", day=past_day,
                                marketplace_ids=MARKETPLACES, pii=False, api_version="v0")
        assert "createRestrictedDataToken.calls" not in control.stats()
        assert not result.pii_refused and all(p.redacted for p in result.pages)
        addresses = [o["ShippingAddress"] for o, _ in extracted_orders(store, result).values()
                     if "ShippingAddress" in o]
        assert addresses and all(set(a) == {"City", "StateOrRegion", "CountryCode"} for a in addresses)

    def test_a_refused_rdt_is_a_warning_in_the_run_metadata_not_silently_empty_pii(self, tmp_path, emulator, control,
                                                                                  past_day):
        env = v0_env(tmp_path, emulator, pii=True)
        control.faults(deny_rdt=True)
        result = materialize_raw(env, past_day, "acme")
        landed = result.asset_materializations_for_node("amazon_sp_api__landed_order_pages")[0].metadata
        assert landed["pii_refused"].value is True
        assert "refused the restricted data token" in landed["warnings"].value
        db = env["DUCKDB_PATH"]
        rows = query(db, "select count(*), count(*) filter (where is_redacted) from raw.order_pages")
        assert rows[0][0] == rows[0][1] > 0
        landing = LocalStore(env["LANDING_DIR"])
        keys = [k for (k,) in query(db, "select landed_key from raw.order_pages")]
        assert all(b'"Name"' not in landing.get(k) for k in keys)
        assert '"Name"' not in query(db, "select string_agg(order_json, '') from raw.order_records")[0][0]


def v0_env(tmp_path, emulator, pii: bool, api_version: str = "v0", name: str = "v0", region: str = "EU",
           marketplaces: list[str] = MARKETPLACES) -> dict[str, str]:
    accounts = tmp_path / f"accounts-{name}.yaml"
    accounts.write_text(f"""
accounts:
  - id: acme
    region: {region}
    marketplace_ids: [{", ".join(marketplaces)}]
    api_version: "{api_version}"
    pii: {str(pii).lower()}
""")
    return emulator_env(emulator.url, tmp_path / name, accounts)


def mart_rows(db: str, table: str, exclude: set[str]) -> tuple[list[str], list[tuple]]:
    columns = [c for (c,) in query(db, "select column_name from information_schema.columns where table_schema = "
                                       "'main' and table_name = ? order by ordinal_position", [table])
               if c not in exclude]
    return columns, query(db, f"select {', '.join(columns)} from main.{table} order by all")


# Money cases per region: EU sellers have shipping promotions, gift wrap and access points; JP has cash on delivery.
MONEY_CASES = {
    "EU": ["sum(shipping_amount) filter (where promotion_discount_amount >= shipping_amount and shipping_amount > 0)",
           "sum(gift_wrap_amount)"],
    "FE": ["sum(cod_fee_amount)", "count(*) filter (where cod_fee_amount = 0)"],
}


@pytest.mark.slow  # two whole extractions of a seller, and dbt over each
@pytest.mark.parametrize("region, marketplaces, n_days, least", [
    ("EU", MARKETPLACES, 7, 1000), ("FE", ["A1VC38T7YXB528"], 3, 100)], ids=["EU", "FE"])
def test_the_same_seller_through_v0_and_v2026_gives_the_same_marts(tmp_path, emulator, control, region, marketplaces,
                                                                    n_days, least):
    first = datetime.now(UTC).date() - timedelta(days=n_days + 2)
    days = [first + timedelta(days=i) for i in range(n_days)]
    envs = {v: v0_env(tmp_path, emulator, pii=True, api_version=v, name=v, region=region, marketplaces=marketplaces)
            for v in ("v0", "2026-01-01")}
    for env in envs.values():
        for day in days:
            materialize_raw(env, day, "acme")
        result = materialize_transform(env, days[0], days[-1])
        assert result.success
        failed = [e.check_name for e in result.get_asset_check_evaluations()
                  if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
        assert not failed
    v0_db, v2026_db = envs["v0"]["DUCKDB_PATH"], envs["2026-01-01"]["DUCKDB_PATH"]
    assert query(v0_db, "select count(*) from staging.quarantine") == [(0,)]
    # The emulator's clock is real time: an order it changed again after the days (while the two extractions ran,
    # one after the other) has left the later one's window, so both sides leave it out, as the truth does below.
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    _, moved = control_truth(control, "acme", start, start + timedelta(days=n_days), marketplaces)

    def unmoved(rows: list[tuple]) -> list[tuple]:
        return [r for r in rows if r[0] not in moved]  # each query below has order_id first

    # Every column of the items, money included, and of the orders but for what v0 does not say.
    for table, exclude in (("orders", V0_ONLY_DIFFERENT_ORDER_COLUMNS), ("order_items", V0_UNSAID_TAX_COLUMNS)):
        exclude = exclude | {"account_id"}
        columns, v0_rows = mart_rows(v0_db, table, exclude)
        _, v2026_rows = mart_rows(v2026_db, table, exclude)
        assert columns[0] == "order_id"
        assert unmoved(v2026_rows) == unmoved(v0_rows) and len(unmoved(v0_rows)) > least
    # The region's money cases are there (and the totals check above reconciled each v0 OrderTotal with them).
    cases = query(v0_db, f"select {', '.join(MONEY_CASES[region])} from main.order_items")[0]
    assert all(c and c > 0 for c in cases), cases
    # Payment methods where v0 names one (cash on delivery, invoice); the buyer's tax registration (v0 has no type
    # and no seller's registration); v0 has no packages at all.
    paid = "select order_id, payment_method from main.orders where payment_method is not null order by 1"
    v0_paid = unmoved(query(v0_db, paid))
    assert v0_paid and set(v0_paid) <= set(unmoved(query(v2026_db, paid)))
    methods = {m for _, m in v0_paid}
    assert methods <= {"CashOnDelivery", "Invoice"} and ("CashOnDelivery" in methods) == (region == "FE")
    collected = ("select order_id, order_item_id from main.order_items where tax_collected_by = 'MARKETPLACE' "
                 "order by all")
    assert unmoved(query(v0_db, collected)) == [] and (region == "FE") == (not unmoved(query(v2026_db, collected)))
    buyers = ("select order_id, registration_number, legal_name from main.order_tax_registrations "
              "where entity_type = 'BUYER' order by all")
    assert unmoved(query(v0_db, buyers)) == unmoved(query(v2026_db, buyers)) and unmoved(query(v0_db, buyers))
    assert query(v0_db, "select count(*) from main.order_packages") == [(0,)]
    assert query(v2026_db, "select count(*) from main.order_packages")[0][0] > 0
    # The columns v0 does give for seller-fulfilled orders agree too.
    window_cols = "order_id, ship_by_earliest_at, ship_by_latest_at, deliver_by_earliest_at"
    mfn = f"select {window_cols} from main.orders where fulfilled_by = 'MERCHANT' order by 1"
    assert unmoved(query(v0_db, mfn)) == unmoved(query(v2026_db, mfn))
    assert query(v0_db, "select count(*) from main.orders where fulfilled_by = 'AMAZON' "
                        "and ship_by_earliest_at is not null") == [(0,)]
    # And the v0 marts equal the emulator's ground truth, as the v2026 ones do.
    got, expected = orders_against_truth(v0_db, control, "acme", start, start + timedelta(days=n_days), marketplaces)
    assert got == expected
    # Addresses: v0 has one only once an order is past Pending, and no phone for Amazon-fulfilled orders.
    address = "select order_id, city, country_code, address_type, recipient_name, postal_code from main.order_addresses"
    v0_addresses = set(unmoved(query(v0_db, address)))
    assert v0_addresses and v0_addresses <= set(query(v2026_db, address))
    assert any(a[3] == "PICKUP_POINT" for a in v0_addresses)  # IsAccessPointOrder


def load_v0_pages(db: str, account_id: str, day: date, orders_pages: list[dict], item_pages: list[dict]) -> None:
    """v0 pages straight into the raw tables, as the load step writes them: orders pages, then items pages."""
    rows = [(account_id, day, n, "v0", "test", "{}", f"req-{n}", datetime(2026, 10, 2, tzinfo=UTC),
             len(p["payload"]["Orders"]), False, json.dumps(p), "getOrders") for n, p in enumerate(orders_pages, 1)]
    rows += [(account_id, day, len(orders_pages) + n, "v0", "test", "{}", f"req-i{n}",
              datetime(2026, 10, 2, tzinfo=UTC), 0, False, json.dumps(p), "getOrderItems")
             for n, p in enumerate(item_pages, 1)]
    items: dict[str, list] = {}
    for p in item_pages:
        items.setdefault(p["payload"]["AmazonOrderId"], []).extend(p["payload"]["OrderItems"])
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(db) as conn:
        replace_partition(conn, account_id, day, rows, order_items=items)


def v0_money(amount: str, currency: str = "USD") -> dict:
    return {"CurrencyCode": currency, "Amount": amount}


def test_v0_money_follows_amazons_mapping_case_by_case(pipeline_env):
    """Amazon's mapping on hand-made orders: a free-shipping promotion is one discount (ShippingDiscount is a part of
    PromotionDiscount, not a second one), gift wrap and COD fees count, an access point is a pickup point."""
    env = {**pipeline_env, "PARTITIONS_START_DATE": "2026-09-01"}
    db = env["DUCKDB_PATH"]
    day = date(2026, 10, 1)

    def order(order_id: str, total: str, currency: str, marketplace: str, **extra) -> dict:
        return {"AmazonOrderId": order_id, "PurchaseDate": "2026-10-01T10:00:00Z",
                "LastUpdateDate": "2026-10-01T12:00:00Z", "OrderStatus": "Unshipped", "FulfillmentChannel": "MFN",
                "MarketplaceId": marketplace, "SalesChannel": "Amazon", "OrderTotal": v0_money(total, currency),
                "ShippingAddress": {"City": "C", "CountryCode": "US"}, **extra}

    free_shipping = {"OrderItemId": "1", "ASIN": "A", "SellerSKU": "S", "QuantityOrdered": 1,
                     "ItemPrice": v0_money("20.00"), "ShippingPrice": v0_money("5.00"),
                     "ItemTax": v0_money("1.60"), "ShippingTax": v0_money("0.40"),
                     "ShippingDiscount": v0_money("5.00"), "ShippingDiscountTax": v0_money("0.40"),
                     "PromotionDiscount": v0_money("5.00"), "PromotionDiscountTax": v0_money("0.40"),
                     "PromotionIds": ["FREESHIP"]}
    jp = {"OrderItemId": "2", "ASIN": "B", "SellerSKU": "T", "QuantityOrdered": 2, "IsGift": "true",
          "ItemPrice": v0_money("2000", "JPY"), "ItemTax": v0_money("200", "JPY"),
          "CODFee": v0_money("330", "JPY"), "CODFeeDiscount": v0_money("0", "JPY"),
          "BuyerInfo": {"GiftWrapPrice": v0_money("300", "JPY"), "GiftWrapTax": v0_money("30", "JPY")}}
    orders = [order("114-0000001-0000001", "21.60", "USD", "ATVPDKIKX0DER"),
              order("250-0000002-0000002", "2860", "JPY", "A1VC38T7YXB528", IsAccessPointOrder=True)]
    load_v0_pages(db, "acme-us", day, [{"payload": {"Orders": orders}}], [
        {"payload": {"AmazonOrderId": orders[0]["AmazonOrderId"], "OrderItems": [free_shipping]}},
        {"payload": {"AmazonOrderId": orders[1]["AmazonOrderId"], "OrderItems": [jp]}}])
    result = materialize_transform(env, day)
    assert result.success
    totals = next(e for e in result.get_asset_check_evaluations() if e.check_name == "order_totals_match_their_items")
    assert totals.passed and totals.metadata["orders_checked"].value == 2
    items = query(db, "select order_item_id, line_total_amount, shipping_amount, tax_amount, gift_wrap_amount, "
                      "cod_fee_amount, promotion_discount_amount, item_proceeds_amount from main.order_items "
                      "order by 1")
    d = Decimal
    # 20 + 5 shipping + 2.00 tax - 5 shipping promotion - 0.40 tax on it = 21.60 (not 16.20).
    assert items[0] == ("1", d("20"), d("5"), d("1.60"), None, None, d("5"), d("21.60"))
    # 2000 + 300 gift wrap + 330 COD + 230 tax = 2860.
    assert items[1] == ("2", d("2000"), None, d("230"), d("300"), d("330"), None, d("2860"))
    assert query(db, "select address_type from main.order_addresses order by order_id") == [
        (None,), ("PICKUP_POINT",)]


def test_amazons_v0_sandbox_examples_parse_field_by_field(pipeline_env, sandbox_cases):
    """Every getOrders, getOrder, getOrderItems and getOrderAddress 200 example, loaded as v0 raw pages. getOrder's
    orders go in a getOrders-shaped page; the getOrderAddress example stands in for the ShippingAddress that
    getOrders returns with an RDT; orders without an items example get an empty getOrderItems page."""
    env = {**pipeline_env, "PARTITIONS_START_DATE": "1970-01-01"}
    db = env["DUCKDB_PATH"]
    v0 = {}
    for case in sandbox_cases:
        if case["api_version"] == "v0" and case["response_status"] == 200:
            v0.setdefault(case["operation"], []).append(case)
    orders_pages = [c["response_body"] for c in v0["getOrders"]]
    orders_pages.append({"payload": {"Orders": [c["response_body"]["payload"] for c in v0["getOrder"]]}})
    address = v0["getOrderAddress"][0]["response_body"]["payload"]
    for page in orders_pages:
        for order in page["payload"]["Orders"]:
            if order["AmazonOrderId"] == address["AmazonOrderId"]:
                order["ShippingAddress"] = address["ShippingAddress"]
    item_pages = [c["response_body"] for c in v0["getOrderItems"]]
    with_items = {p["payload"]["AmazonOrderId"] for p in item_pages}
    all_ids = {o["AmazonOrderId"] for p in orders_pages for o in p["payload"]["Orders"]}
    item_pages += [{"payload": {"AmazonOrderId": i, "OrderItems": []}} for i in sorted(all_ids - with_items)]
    # 902-3159896-1390916 is on both NEXT_TOKEN pages, and getOrder's TEST_CASE_200 is getOrders' first order.
    assert len(orders_pages) == 4 and len(all_ids) == 4
    day = date(2019, 5, 8)
    load_v0_pages(db, "sandbox", day, orders_pages, item_pages)
    result = materialize_transform(env, day)
    assert result.success
    assert query(db, "select count(*) from staging.stg_amazon_sp_api__orders") == [(6,)]  # a version per record
    assert not query(db, "select * from staging.quarantine")
    rows = {r[0]: r[1:] for r in query(
        db, "select order_id, order_status, fulfilled_by, order_total_amount, currency_code, purchased_at, "
            "last_updated_at, is_prime, is_business, marketplace_id, marketplace_name, sales_channel, "
            "fulfillment_service_level, line_count, ship_by_earliest_at, deliver_by_latest_at, api_version "
            "from main.orders")}
    assert set(rows) == all_ids
    mfn = rows["902-1845936-5435065"]
    assert mfn[:4] == ("UNSHIPPED", "MERCHANT", Decimal("11.01"), "USD")
    assert mfn[4] == datetime(1970, 1, 19, 3, 58, 30, tzinfo=UTC) and mfn[5] == datetime(1970, 1, 19, 3, 58, 32,
                                                                                         tzinfo=UTC)
    assert mfn[6:] == (False, False, "ATVPDKIKX0DER", "Amazon.com", "AMAZON", "STANDARD", 1,
                       datetime(1970, 1, 19, 3, 59, 27, tzinfo=UTC), datetime(1970, 1, 19, 4, 15, 17, tzinfo=UTC),
                       "v0")
    iba = rows["921-3175655-0452641"]  # AFN, Amazon.de, EUR, a business order, fractional seconds
    assert iba[:4] == ("SHIPPED", "AMAZON", Decimal("100.00"), "EUR")
    assert iba[4] == datetime(2019, 5, 7, 15, 42, 57, 58000, tzinfo=UTC)
    assert iba[6:10] == (False, True, "A1PA6795UKMFR9", "Amazon.de")
    pending = rows["902-3159896-1390916"]  # no OrderTotal, no SalesChannel: NULL money, never 0
    assert pending[:4] == ("PENDING", "MERCHANT", None, None) and pending[10:13] == (None, "STANDARD", 0)
    items = query(db, "select order_id, order_item_id, sku, asin, title, quantity_ordered, quantity_fulfilled, "
                      "unit_price_amount, line_total_amount, tax_amount, shipping_amount, promotion_discount_amount, "
                      "item_proceeds_amount, currency_code from main.order_items")
    assert items == [("902-1845936-5435065", "05015851154158", "NABetaASINB00551Q3CS", "B00551Q3CS",
                      "B00551Q3CS [Card Book]", 1, 0, Decimal("10.00"), Decimal("10.00"), Decimal("1.01"), None,
                      Decimal("0.00"), Decimal("11.01"), "USD")]
    # The address (restricted fields included, as with an RDT) with AddressType in the v2026 spelling.
    assert query(db, "select order_id, recipient_name, address_line1, city, state_or_region, postal_code, "
                     "country_code, phone, address_type, address_line2 from main.order_addresses") == [
        ("902-1845936-5435065", "MFNIntegrationTestMerchant", "2201 WESTLAKE AVE", "SEATTLE", "WA", "98121-2778",
         "US", "+1 480-386-0930 ext. 73824", "COMMERCIAL", None)]


def test_the_rdt_is_reused_for_its_lifetime_then_created_anew(emulator, control):
    now = [0.0]
    rdt = RestrictedDataToken(v0_client(emulator), PII_RESOURCES, clock=lambda: now[0])
    first = rdt.token()
    now[0] = 3600 - 61  # still inside its lifetime, less the refresh margin
    assert rdt.token() == first
    now[0] = 3600 - 59
    second = rdt.token()
    assert second != first and control.stats()["createRestrictedDataToken.200"] == 2
    rdt.invalidate(second)  # rejected by the API: the next use creates one more
    assert rdt.token() not in (first, second) and rdt.refreshes == 3
