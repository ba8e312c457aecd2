"""The emulator against Amazon's model: schema conformance, the searchOrders rules, quotas, faults, the clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import jsonschema
import pytest
import requests

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.seller import SyntheticSeller
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.testing.conformance import get, response_schema, token, validate, window
from amazon_orders_pipeline.testing.control import EmulatorControl

SEARCH = "/orders/2026-01-01/orders"
ALL_INCLUDED = "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT"


class TestSchemaConformance:
    def test_every_endpoint_and_status_validates_against_the_model(self, emulator, orders_model):
        url, access = emulator.url, token(emulator.url)
        seen: dict[tuple[str, int], int] = {}

        def check(path_template: str, resp: requests.Response) -> dict:
            body = resp.json()
            validate(orders_model, response_schema(orders_model, path_template, resp.status_code), body)
            assert resp.headers.get("x-amzn-RequestId")
            if resp.status_code in (200, 400, 404):
                assert float(resp.headers["x-amzn-RateLimit-Limit"]) > 0
            seen[(path_template, resp.status_code)] = seen.get((path_template, resp.status_code), 0) + 1
            return body

        first = check(SEARCH, get(url, SEARCH, access, includedData=ALL_INCLUDED, maxResultsPerPage=50, **window()))
        assert len(first["orders"]) == 50 and first["pagination"]["nextToken"]
        second = check(SEARCH, get(url, SEARCH, access, paginationToken=first["pagination"]["nextToken"],
                                   maxResultsPerPage=50, **window()))
        assert second["orders"]
        check(SEARCH, get(url, SEARCH, access, **window()))  # basic data only
        order_path = SEARCH + "/{orderId}"
        order_id = first["orders"][0]["orderId"]
        one = check(order_path, get(url, f"{SEARCH}/{order_id}", access, includedData=ALL_INCLUDED))
        assert one["order"]["orderId"] == order_id
        check(order_path, get(url, f"{SEARCH}/999-0000000-0000000", access))  # 404
        check(order_path, get(url, f"{SEARCH}/not-an-id", access))  # 400
        check(SEARCH, get(url, SEARCH, access, createdAfter="TEST_CASE_400"))  # 400
        check(SEARCH, get(url, SEARCH, None, **window()))  # 403

        control = EmulatorControl(emulator)
        for fault, status in (("throttle", 429), ("server_error", 500), ("unavailable", 503)):
            control.faults(**{fault: 1.0})
            check(SEARCH, get(url, SEARCH, access, **window()))
            assert (SEARCH, status) in seen
        control.faults()
        statuses = {s for (_, s) in seen}
        assert statuses == {200, 400, 403, 404, 429, 500, 503}

    def test_quota_429_validates_and_has_no_rate_header(self, orders_model):
        with Emulator(speed=1.0, seed=1, orders_per_day=5) as emu:
            access = token(emu.url)
            statuses = [get(emu.url, SEARCH, access, **window()).status_code for _ in range(21)]
            assert statuses[:20] == [200] * 20  # the documented burst
            last = get(emu.url, SEARCH, access, **window())
            assert last.status_code == 429
            validate(orders_model, "ErrorList", last.json())
            assert last.json()["errors"][0]["code"] == "QuotaExceeded"
            assert "x-amzn-RateLimit-Limit" not in last.headers

    def test_sandbox_search_responses_validate_with_our_validator(self, orders_model, sandbox_cases):
        # Guards the validator itself: Amazon's own examples must pass it, and a broken one must not.
        ok = [c for c in sandbox_cases if c["operation"] == "searchOrders" and c["response_status"] == 200]
        assert ok
        for case in ok:
            validate(orders_model, "SearchOrdersResponse", case["response_body"])
        broken = json.loads(json.dumps(ok[0]["response_body"]))
        del broken["orders"][0]["orderId"]
        with pytest.raises(jsonschema.ValidationError):
            validate(orders_model, "SearchOrdersResponse", broken)


class TestSearchOrdersRules:
    @pytest.mark.parametrize("params, fragment", [
        ({}, "Exactly one of createdAfter and lastUpdatedAfter"),
        ({"createdAfter": "2026-11-01T00:00:00Z", "lastUpdatedAfter": "2026-11-01T00:00:00Z"}, "Exactly one"),
        ({"createdAfter": "2026-11-01T00:00:00Z", "lastUpdatedBefore": "2026-11-02T00:00:00Z"}, "cannot be set"),
        ({"lastUpdatedAfter": "2026-11-01T00:00:00Z", "createdBefore": "2026-11-02T00:00:00Z"}, "cannot be set"),
        ({"lastUpdatedAfter": "1.569521782042E9"}, "not a valid ISO-8601"),
        ({"lastUpdatedAfter": "yesterday"}, "not a valid ISO-8601"),
        ({"lastUpdatedAfter": "2026-11-02T00:00:00Z", "lastUpdatedBefore": "2026-11-01T00:00:00Z"}, "after"),
        ({"lastUpdatedAfter": "2026-11-01T00:00:00Z", "maxResultsPerPage": "101"}, "maxResultsPerPage"),
        ({"lastUpdatedAfter": "2026-11-01T00:00:00Z", "maxResultsPerPage": "0"}, "maxResultsPerPage"),
        ({"lastUpdatedAfter": "2026-11-01T00:00:00Z", "fulfillmentStatuses": "Canceled"}, "fulfillmentStatuses"),
        ({"lastUpdatedAfter": "2026-11-01T00:00:00Z", "marketplaceIds": ",".join(["ATVPDKIKX0DER"] * 51)}, "50"),
    ])
    def test_bad_parameters_are_400_invalid_input(self, emulator, params, fragment):
        resp = get(emulator.url, SEARCH, token(emulator.url), **params)
        assert resp.status_code == 400
        err = resp.json()["errors"][0]
        assert err["code"] == "InvalidInput" and fragment in err["details"]

    def test_before_must_be_two_minutes_in_the_past(self, emulator):
        access = token(emulator.url)
        now = datetime.now(UTC)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        too_late = get(emulator.url, SEARCH, access, lastUpdatedAfter=(now - timedelta(hours=1)).strftime(fmt),
                       lastUpdatedBefore=(now - timedelta(seconds=60)).strftime(fmt))
        assert too_late.status_code == 400 and "two minutes" in too_late.json()["errors"][0]["details"]
        fine = get(emulator.url, SEARCH, access, lastUpdatedAfter=(now - timedelta(hours=1)).strftime(fmt),
                   lastUpdatedBefore=(now - timedelta(seconds=180)).strftime(fmt))
        assert fine.status_code == 200

    def test_pagination_token_is_bound_to_the_other_parameters(self, emulator):
        access = token(emulator.url)
        first = get(emulator.url, SEARCH, access, maxResultsPerPage=10, **window()).json()
        next_token = first["pagination"]["nextToken"]
        other = window(days_ago=4)
        resp = get(emulator.url, SEARCH, access, paginationToken=next_token, **other)
        assert resp.status_code == 400 and "does not match" in resp.json()["errors"][0]["details"]
        # maxResultsPerPage and includedData may change between pages.
        ok = get(emulator.url, SEARCH, access, paginationToken=next_token, maxResultsPerPage=5,
                 includedData="PROCEEDS", **window())
        assert ok.status_code == 200 and len(ok.json()["orders"]) == 5

    def test_pagination_token_expires_after_24_hours(self, emulator):
        control = EmulatorControl(emulator)
        access = token(emulator.url)
        first = get(emulator.url, SEARCH, access, maxResultsPerPage=10, **window(days_ago=5)).json()
        control.set_clock(datetime.now(UTC) + timedelta(hours=25))
        access = token(emulator.url)  # the old access token expired too
        resp = get(emulator.url, SEARCH, access, paginationToken=first["pagination"]["nextToken"],
                   maxResultsPerPage=10, **window(days_ago=5))
        assert resp.status_code == 400 and "expired" in resp.json()["errors"][0]["details"]

    def test_filters_and_included_data(self, emulator):
        access = token(emulator.url)
        body = get(emulator.url, SEARCH, access, fulfilledBy="AMAZON", marketplaceIds="A1VC38T7YXB528",
                   includedData="FULFILLMENT,PROCEEDS", **window()).json()
        assert body["orders"]
        for order in body["orders"]:
            assert order["fulfillment"]["fulfilledBy"] == "AMAZON"
            assert order["salesChannel"]["marketplaceId"] == "A1VC38T7YXB528"
            assert "buyer" not in order and "recipient" not in order
            if "proceeds" in order:
                assert order["proceeds"]["grandTotal"]["currencyCode"] == "JPY"
                assert "." not in order["proceeds"]["grandTotal"]["amount"]  # JPY has no minor unit
        shipped = get(emulator.url, SEARCH, access, fulfillmentStatuses="SHIPPED", includedData="FULFILLMENT",
                      **window()).json()["orders"]
        assert shipped and {o["fulfillment"]["fulfillmentStatus"] for o in shipped} == {"SHIPPED"}

    def test_expired_or_unknown_access_token_is_403(self, emulator):
        resp = get(emulator.url, SEARCH, "Atza|made-up", **window())
        assert resp.status_code == 403 and resp.json()["errors"][0]["code"] == "Unauthorized"

    def test_lwa_rejects_missing_credentials(self, emulator):
        resp = requests.post(f"{emulator.url}/auth/o2/token",
                             data={"grant_type": "refresh_token", "refresh_token": "x"}, timeout=10)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


class TestSyntheticSeller:
    def test_same_seed_same_orders_other_seed_other_orders(self):
        day = datetime(2026, 11, 1).date()
        a = [o.order_id for o in SyntheticSeller(seed=3).orders_created_on("s", day)]
        b = [o.order_id for o in SyntheticSeller(seed=3).orders_created_on("s", day)]
        c = SyntheticSeller(seed=4).orders_created_on("s", day)
        assert a == b
        assert [o.events for o in c] != [o.events for o in SyntheticSeller(seed=3).orders_created_on("s", day)]
        assert len(set(a)) == len(a)

    def test_the_seller_has_the_variety_the_pipeline_must_handle(self):
        seller = SyntheticSeller(seed=42, orders_per_day=400)
        day = datetime(2026, 11, 1).date()
        orders = [o for d in range(5) for o in seller.orders_created_on("s", day + timedelta(days=d))]
        currencies = {o.currency for o in orders}
        assert {"USD", "GBP", "EUR", "JPY"} <= currencies
        assert {"AMAZON", "MERCHANT"} == {o.fulfilled_by for o in orders}
        assert any(len(o.lines) > 1 for o in orders)
        assert any(line.promotion_ids for o in orders for line in o.lines)
        paths = {tuple(s for _, s in o.events) for o in orders}
        assert ("PENDING", "UNSHIPPED", "SHIPPED") in paths
        assert any(p[-1] == "CANCELLED" for p in paths)
        # Pending orders carry no money; the same order later does, and its totals add up.
        o = next(o for o in orders if [s for _, s in o.events][-1] == "SHIPPED")
        pending = o.to_api(o.created_at)
        assert "proceeds" not in pending and all("proceeds" not in i for i in pending["orderItems"])
        shipped = o.to_api(o.events[-1][0])
        total = sum(float(i["proceeds"]["proceedsTotal"]["amount"]) for i in shipped["orderItems"])
        assert abs(float(shipped["proceeds"]["grandTotal"]["amount"]) - total) < 0.005
        for item, line in zip(shipped["orderItems"], o.lines, strict=True):
            assert item["product"]["price"]["unitPrice"]["amount"] == str(line.unit_price)

    def test_the_seller_covers_amazons_money_cases_and_both_shapes_add_up(self):
        from amazon_orders_pipeline.emulator.v0_shapes import v0_items, v0_order

        seller = SyntheticSeller(seed=42, orders_per_day=400)
        day = datetime(2026, 11, 1).date()
        orders = [o for d in range(4) for o in seller.orders_created_on("s", day + timedelta(days=d))]
        lines = [(o, line) for o in orders for line in o.lines]
        free_shipping = [line for _, line in lines if line.shipping_discount]
        assert free_shipping and all(line.shipping_discount == line.shipping for line in free_shipping)
        assert any(line.discount and line.shipping_discount for _, line in lines)  # both promotions on one line
        assert any(line.gift_wrap for _, line in lines)
        cod = [(o, line) for o, line in lines if line.cod_fee]
        assert cod and {o.currency for o, _ in cod} == {"JPY"} and {line.cod_fee for _, line in cod} == {Decimal(330)}
        assert any(line.cod_fee_discount for _, line in cod)  # a waived fee too
        assert any(o.access_point for o in orders)
        # In each shape the money adds up: v2026's breakdowns to proceedsTotal, and v0's fields, read as Amazon's
        # mapping reads them, to the same proceeds and to OrderTotal.
        for o in [o for o in orders if o.access_point or any(
                line.gift_wrap or line.cod_fee or line.shipping_discount for line in o.lines)]:
            as_of = o.events[-1][0]
            if not o.had_money(as_of):
                continue
            api = o.to_api(as_of)
            v0 = v0_items(o, as_of)
            for item, v0_item in zip(api["orderItems"], v0, strict=True):
                total = Decimal(item["proceeds"]["proceedsTotal"]["amount"])
                assert sum(Decimal(b["subtotal"]["amount"]) for b in item["proceeds"]["breakdowns"]) == total
                def amount(*path, item=v0_item) -> Decimal:
                    for key in path:
                        item = item.get(key, {})
                    return Decimal(item.get("Amount", "0"))

                mapped = (amount("ItemPrice") + amount("ShippingPrice") + amount("BuyerInfo", "GiftWrapPrice")
                          + amount("CODFee") - amount("CODFeeDiscount") + amount("ItemTax") + amount("ShippingTax")
                          + amount("BuyerInfo", "GiftWrapTax") - amount("PromotionDiscount")
                          - amount("PromotionDiscountTax"))
                assert mapped == total, (o.order_id, v0_item)
                assert amount("ShippingDiscount") <= amount("PromotionDiscount")
            grand_total = Decimal(api["proceeds"]["grandTotal"]["amount"])
            assert Decimal(v0_order(o, as_of)["OrderTotal"]["Amount"]) == grand_total
            if o.access_point:
                assert api["recipient"]["deliveryAddress"]["addressType"] == "PICKUP_POINT"
                assert v0_order(o, as_of)["IsAccessPointOrder"] is True

    def test_status_changes_move_last_updated_time(self, emulator):
        control = EmulatorControl(emulator)
        seller = emulator.state.seller
        day = (datetime.now(UTC) - timedelta(days=10)).date()
        from amazon_orders_pipeline.emulator.auth import seller_key

        history = next(o for o in seller.orders_created_on(seller_key("Atzr|clock"), day)
                       if [s for _, s in o.events][-1] == "SHIPPED")
        created = history.created_at
        control.set_clock(created + timedelta(minutes=3))
        access = token(emulator.url, "Atzr|clock")
        early = get(emulator.url, f"{SEARCH}/{history.order_id}", access, includedData="FULFILLMENT").json()["order"]
        assert early["fulfillment"]["fulfillmentStatus"] == "PENDING"
        assert early["lastUpdatedTime"] == early["createdTime"]
        control.set_clock(history.events[-1][0] + timedelta(minutes=3))
        access = token(emulator.url, "Atzr|clock")
        late = get(emulator.url, f"{SEARCH}/{history.order_id}", access, includedData="FULFILLMENT").json()["order"]
        assert late["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
        assert late["lastUpdatedTime"] > early["lastUpdatedTime"]


def ignore_and_block_sigterm() -> None:
    """What a background job or a process with its own handlers may hand down to its children."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


@pytest.mark.parametrize("inherited", [None, ignore_and_block_sigterm], ids=["plain", "sigterm-ignored-and-blocked"])
def test_command_line_prints_its_url_and_stops_on_sigterm(inherited):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "amazon_orders_pipeline.emulator", "--port", "0", "--speed", "5"],
                            stdout=subprocess.PIPE, text=True, preexec_fn=inherited)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert token(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_refresh_token_is_one_region_and_other_regions_marketplaces_are_refused_as_amazon_does(emulator):
    refused = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                           "details": "The marketplaces you provided are not valid for region."}]}
    # A first request that mixes regions is refused.
    mixed = get(emulator.url, SEARCH, token(emulator.url, "Atzr|mixed"), **window(),
                marketplaceIds="ATVPDKIKX0DER,A1PA6795UKMFR9")
    assert (mixed.status_code, mixed.json()) == (403, refused)
    # A seller first seen in the EU stays there: UK and DE answer, the US does not, in v2026 and in v0.
    access = token(emulator.url, "Atzr|eu-seller")
    eu = get(emulator.url, SEARCH, access, **window(), marketplaceIds="A1F83G8C2ARO7P,A1PA6795UKMFR9")
    assert eu.status_code == 200 and eu.json()["orders"]
    assert {o["salesChannel"]["marketplaceId"] for o in eu.json()["orders"]} <= {"A1F83G8C2ARO7P", "A1PA6795UKMFR9"}
    us = get(emulator.url, SEARCH, access, **window(), marketplaceIds="ATVPDKIKX0DER")
    assert (us.status_code, us.json()) == (403, refused)
    v0_window = {"LastUpdatedAfter": window()["lastUpdatedAfter"], "LastUpdatedBefore": window()["lastUpdatedBefore"]}
    v0 = get(emulator.url, "/orders/v0/orders", access, **v0_window, MarketplaceIds="ATVPDKIKX0DER")
    assert (v0.status_code, v0.json()) == (403, refused)
    # Naming no marketplace gets the whole region, never another region's orders.
    everything = get(emulator.url, SEARCH, access, **window())
    assert everything.status_code == 200
    assert {o["salesChannel"]["marketplaceId"] for o in everything.json()["orders"]} == {
        "A1F83G8C2ARO7P", "A1PA6795UKMFR9"}
    # An order of another region is not found by id.
    na_access = token(emulator.url, "Atzr|na-seller")
    us_orders = get(emulator.url, SEARCH, na_access, **window(), marketplaceIds="ATVPDKIKX0DER").json()["orders"]
    order_id = us_orders[0]["orderId"]
    assert get(emulator.url, f"{SEARCH}/{order_id}", na_access).status_code == 200
    # The EU seller's own US orders exist in the synthetic data, yet its token does not find them by id.
    bounds = [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in window().values()]
    state = emulator.state
    own_us = [o for o in state.window_orders(seller_key("Atzr|eu-seller"), "lastUpdated", *bounds, state.clock.now())
              if o.marketplace_id == "ATVPDKIKX0DER"]
    assert own_us and get(emulator.url, f"{SEARCH}/{own_us[0].order_id}", access).status_code == 404


class TestWhatRealClientsSend:
    """Requests Amazon accepts from common clients, which the emulator once refused."""

    def ids(self, url: str, access: str, **params) -> list[str]:
        got, params = [], {"maxResultsPerPage": 25, **params}
        while True:
            resp = get(url, SEARCH, access, **params)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            got += [o["orderId"] for o in body["orders"]]
            if "pagination" not in body:
                return got
            # Only the token, as Amazon's samples page.
            params = {"paginationToken": body["pagination"]["nextToken"]}

    def test_timestamps_without_an_offset_are_utc_and_offsets_are_converted(self, emulator):
        access = token(emulator.url)
        utc = self.ids(emulator.url, access, **window())
        assert utc
        naive = {k: v.rstrip("Z") for k, v in window().items()}
        assert self.ids(emulator.url, access, **naive) == utc
        start = datetime.fromisoformat(window()["lastUpdatedAfter"].replace("Z", "+00:00"))
        shifted = {k: (datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(
            timezone(timedelta(hours=2)))).isoformat() for k, v in window().items()}
        assert shifted["lastUpdatedAfter"].endswith("+02:00") and start.hour == 0
        assert self.ids(emulator.url, access, **shifted) == utc

    def test_unknown_parameters_are_ignored_and_a_token_alone_pages_on(self, emulator):
        access = token(emulator.url)
        plain = self.ids(emulator.url, access, **window())
        assert len(plain) > 25  # more than one page
        assert self.ids(emulator.url, access, **window(), MarketplaceId="ATVPDKIKX0DER", foo="bar") == plain
        # A page request that repeats the query with other values is still refused.
        first = get(emulator.url, SEARCH, access, maxResultsPerPage=25, **window()).json()
        other = get(emulator.url, SEARCH, access, paginationToken=first["pagination"]["nextToken"],
                    **window(days_ago=4))
        assert other.status_code == 400 and "does not match" in other.json()["errors"][0]["details"]
