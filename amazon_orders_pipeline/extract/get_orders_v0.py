"""The Orders API v0 source: getOrders pages, each order's getOrderItems fetched alongside, PII through one RDT."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from amazon_orders_pipeline.extract.landing import LandedPage, OrderSource, PageStore, Window
from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.orders_v0 import V0_API_VERSION, V0_ORDERS_PATH, OrdersV0
from amazon_orders_pipeline.sp_api.pages import Page
from amazon_orders_pipeline.sp_api.tokens import RestrictedDataToken

# One RDT for the generic paths: getOrders with buyer and shipping-address PII, and every order's items.
PII_RESOURCES = [
    {"method": "GET", "path": V0_ORDERS_PATH, "dataElements": ["buyerInfo", "shippingAddress", "buyerTaxInformation"]},
    {"method": "GET", "path": V0_ORDERS_PATH + "/{orderId}/orderItems", "dataElements": ["buyerInfo"]},
]
# What Amazon lists as restricted in a v0 ShippingAddress, plus the postal code (PII by this project's rule,
# as in v2026). City, region and country stay.
PII_ADDRESS_FIELDS = ("Name", "CompanyName", "AddressLine1", "AddressLine2", "AddressLine3", "PostalCode", "Phone",
                      "ExtendedFields")
# getOrderItems calls run in this many threads. They share one token bucket, so this bounds only how many wait on
# a response at once; a handful keeps a sped-up emulator's quota busy.
ITEM_WORKERS = 4

log = logging.getLogger(__name__)


def v0_params(window: Window, marketplace_ids: list[str] | tuple[str, ...]) -> dict:
    after, before = window.iso()
    return {"LastUpdatedAfter": after, "LastUpdatedBefore": before, "MarketplaceIds": list(marketplace_ids),
            "MaxResultsPerPage": 100}


ITEM_BUYER_INFO_KEPT = ("GiftWrapPrice", "GiftWrapTax", "GiftWrapLevel")


def redact_v0_pii(data: dict) -> dict:
    """Drop buyer data and the restricted address fields from a getOrders page, and the gift message and
    customization from a getOrderItems page."""
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return data
    for order in payload.get("Orders") or []:
        if not isinstance(order, dict):
            continue
        order.pop("BuyerInfo", None)
        order.pop("BuyerTaxInformation", None)
        address = order.get("ShippingAddress")
        if isinstance(address, dict):
            for name in PII_ADDRESS_FIELDS:
                address.pop(name, None)
    for item in payload.get("OrderItems") or []:
        buyer = item.get("BuyerInfo") if isinstance(item, dict) else None
        if isinstance(buyer, dict):
            # Gift wrap is money, not PII: its price, tax and level stay; the message and customization go.
            item["BuyerInfo"] = {k: v for k, v in buyer.items() if k in ITEM_BUYER_INFO_KEPT}
            if not item["BuyerInfo"]:
                del item["BuyerInfo"]
    return data


class GetOrdersSource(OrderSource):
    """v0: getOrders pages the window; every order on a landed page has its getOrderItems pages fetched in the
    background, so items are fetched while the next getOrders call waits for its quota. An order's items are
    complete once its DONE marker lands, which is what a resumed attempt checks."""

    api_version = V0_API_VERSION
    operation = "getOrders"
    updated_field = "LastUpdateDate"

    def __init__(self, client: SpApiClient, pii: bool, workers: int = ITEM_WORKERS):
        super().__init__(client, pii)
        self.rdt: RestrictedDataToken | None = None
        if pii:
            rdt = RestrictedDataToken(client, PII_RESOURCES)
            try:
                rdt.token()
                self.rdt = rdt
            except SpApiError as e:
                if e.status not in (400, 401, 403):
                    raise
                # Never an empty PII column that looks like an answer: say so, and land the pages as redacted.
                self.warnings.append(
                    f"PII is on for this account, but Amazon refused the restricted data token ({e}). The pages "
                    f"were fetched without PII and are marked redacted: check the app's restricted roles.")
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[tuple[str, Future]] = []
        self._submitted: set[str] = set()

    @property
    def redacted(self) -> bool:
        return self.rdt is None

    def params(self, window: Window, marketplace_ids: list[str] | tuple[str, ...]) -> dict:
        return v0_params(window, marketplace_ids)

    def pages(self, params: dict, next_token: str | None, first_page: int) -> Iterator[Page]:
        return OrdersV0(self.client).get_orders(params, next_token=next_token, first_page=first_page, access=self.rdt)

    def redact(self, data: dict) -> dict:
        return redact_v0_pii(data)

    def begin(self, store: PageStore, attempt_id: str, landed: list[LandedPage]) -> None:
        self.close()
        self._store, self._attempt = store, attempt_id
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="getOrderItems")
        self._futures, self._submitted = [], set()
        for page in landed:  # resuming: the items of orders on pages landed before, unless already complete
            self.page_landed((json.loads(store.read_body(page)).get("payload") or {}).get("Orders") or [])

    def page_landed(self, orders: list) -> None:
        assert self._pool is not None
        for order in orders:
            order_id = order.get("AmazonOrderId") if isinstance(order, dict) else None
            if not isinstance(order_id, str) or order_id in self._submitted:
                continue  # an order without an id is quarantined downstream; a repeated one has its items
            self._submitted.add(order_id)
            if self._store.items_done(self._attempt, order_id) is None:
                self._futures.append((order_id, self._pool.submit(self._fetch_items, order_id)))

    def _fetch_items(self, order_id: str) -> None:
        redact = self.redacted
        count = 0
        for page in OrdersV0(self.client).get_order_items(order_id, access=self.rdt):
            body = json.dumps(redact_v0_pii(page.data)).encode() if redact else page.body
            self._store.land(self._attempt, page, body, redacted=redact, api_version=self.api_version,
                             order_id=order_id)
            count = page.number
        self._store.mark_items_done(self._attempt, order_id, count)

    def finish(self) -> None:
        for order_id, future in self._futures:
            try:
                future.result()
            except SpApiError as e:
                raise SpApiError(e.operation, e.status, e.code, f"the items of order {order_id}: {e}") from None
        self._futures = []

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
