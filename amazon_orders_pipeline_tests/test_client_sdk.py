"""Amazon's official Python SDK (`amzn-sp-api`) against the emulator, used as its users use it: datetime arguments,
its own models (which check required fields and enums as they deserialize), paging by token; compared with the
emulator's ground truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from spapi import SPAPIClient, SPAPIConfig
from spapi.api.finances_v2024_06_19.finances_v2024_api import FinancesV2024Api
from spapi.api.orders_v0.orders_v0_api import OrdersV0Api
from spapi.api.orders_v2026_01_01.get_order_api import GetOrderApi
from spapi.api.orders_v2026_01_01.search_orders_api import SearchOrdersApi

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.testing.control import EmulatorControl

V0_STATUS = {"Pending": "PENDING", "Unshipped": "UNSHIPPED", "PartiallyShipped": "PARTIALLY_SHIPPED",
             "Shipped": "SHIPPED", "Canceled": "CANCELLED"}
MARKETPLACES = ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]


@pytest.fixture(scope="module")
def emulator():
    with Emulator(speed=3000, seed=21, orders_per_day=400) as emu:
        yield emu


def sdk(emulator: Emulator, refresh_token: str) -> SPAPIClient:
    config = SPAPIConfig(client_id="amzn1.application-oa2-client.sdk", client_secret="sdk-secret",
                         refresh_token=refresh_token, region="EU")
    return SPAPIClient(config, oauth_endpoint=f"{emulator.url}/auth/o2/token", endpoint=emulator.url)


def day_window(days_ago: int = 3) -> tuple[datetime, datetime]:
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    return start, start + timedelta(days=1)


def test_v2026_search_and_get_order_through_the_sdk_equal_the_ground_truth(emulator):
    client, refresh = sdk(emulator, "Atzr|sdk-v2026"), "Atzr|sdk-v2026"
    start, end = day_window()
    api = SearchOrdersApi(client.api_client)
    query = dict(last_updated_after=start, last_updated_before=end, marketplace_ids=MARKETPLACES,
                 included_data=["PROCEEDS", "FULFILLMENT"], max_results_per_page=40)
    orders, token, pages = [], None, 0
    while True:
        # As the SDK's users page: the same arguments again, with the token.
        resp = api.search_orders(**query, **({"pagination_token": token} if token else {}))
        orders += resp.orders
        pages += 1
        token = resp.pagination.next_token if resp.pagination else None
        if not token:
            break
    truth = EmulatorControl(emulator).ground_truth(refresh, start, end, MARKETPLACES)
    assert pages > 1 and len(orders) == len(truth) > 40
    got = sorted((o.order_id, o.fulfillment.fulfillment_status, o.proceeds.grand_total.amount if o.proceeds else None)
                 for o in orders)
    want = sorted((o["orderId"], o["fulfillment"]["fulfillmentStatus"],
                   o["proceeds"]["grandTotal"]["amount"] if "proceeds" in o else None) for o in truth)
    assert got == want
    # getOrder gives each order as the search did, items and their proceeds included.
    get_api = GetOrderApi(client.api_client)
    for o in orders[:10]:
        one = get_api.get_order(o.order_id, included_data=["PROCEEDS", "FULFILLMENT"]).order
        assert one.order_id == o.order_id and one.to_dict() == o.to_dict()
        if one.proceeds:
            lines = sum(Decimal(i.proceeds.proceeds_total.amount) for i in one.order_items)
            assert lines == Decimal(one.proceeds.grand_total.amount)


def test_v0_get_orders_and_items_through_the_sdk_equal_the_ground_truth(emulator):
    client, refresh = sdk(emulator, "Atzr|sdk-v0"), "Atzr|sdk-v0"
    start, end = day_window(4)
    api = OrdersV0Api(client.api_client)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    resp = api.get_orders(marketplace_ids=MARKETPLACES, last_updated_after=start.strftime(fmt),
                          last_updated_before=end.strftime(fmt), max_results_per_page=50)
    orders = list(resp.payload.orders)
    while resp.payload.next_token:
        # As Amazon's samples page v0: the token and the marketplaces.
        resp = api.get_orders(marketplace_ids=MARKETPLACES, next_token=resp.payload.next_token)
        orders += resp.payload.orders
    truth = {o["orderId"]: o for o in EmulatorControl(emulator).ground_truth(refresh, start, end, MARKETPLACES)}
    assert len(orders) == len(truth) > 50
    assert {o.amazon_order_id: V0_STATUS[o.order_status] for o in orders} == {
        k: o["fulfillment"]["fulfillmentStatus"] for k, o in truth.items()}
    for o in orders[:25]:
        items = api.get_order_items(o.amazon_order_id).payload.order_items
        want = truth[o.amazon_order_id]["orderItems"]
        assert [(i.order_item_id, i.quantity_ordered) for i in items] == [
            (i["orderItemId"], i["quantityOrdered"]) for i in want]
        if o.order_total is not None:
            # ItemPrice is the line total: unit price x quantity, as v2026 gives them.
            assert [Decimal(i.item_price.amount) for i in items] == [
                Decimal(i["product"]["price"]["unitPrice"]["amount"]) * i["quantityOrdered"] for i in want]


def test_list_transactions_through_the_sdk_pages_a_window_and_equals_the_ledger(emulator):
    """A posted day of the DE marketplace, page by page as the SDK's users page (the same arguments again with the
    token), deserialized by the SDK's own models, against the emulator's ledger."""
    client, refresh = sdk(emulator, "Atzr|sdk-money"), "Atzr|sdk-money"
    start, end = day_window(days_ago=9)
    emulator.backends.finances.page_size = 25
    api = FinancesV2024Api(client.api_client)
    query = dict(posted_after=start, posted_before=end, marketplace_id="A1PA6795UKMFR9")
    transactions, token, pages = [], None, 0
    while True:
        resp = api.list_transactions(**query, **({"next_token": token} if token else {}))
        transactions += resp.payload.transactions or []
        pages += 1
        token = resp.payload.next_token
        if not token:
            break
    now = emulator.state.clock.now()
    truth = [p for p in emulator.backends.finances.posted_in(seller_key(refresh), start, end)
             if p.marketplace_id == "A1PA6795UKMFR9" and p.listable_at <= now]
    assert pages > 2 and len(transactions) == len(truth) > 50
    assert sorted(t.transaction_id for t in transactions) == sorted(p.transaction_id for p in truth)
    by_id = {p.transaction_id: p for p in truth}
    for t in transactions:
        assert Decimal(str(t.total_amount.currency_amount)) == by_id[t.transaction_id].total
        assert t.total_amount.currency_code == "EUR"
