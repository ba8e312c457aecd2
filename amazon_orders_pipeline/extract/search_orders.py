"""v2026 searchOrders as an order source: each order comes with its items, PII only when asked for."""

from __future__ import annotations

from collections.abc import Iterator

from amazon_orders_pipeline.extract.landing import OrderSource, Window
from amazon_orders_pipeline.sp_api.orders_v2026 import API_VERSION, OrdersV2026
from amazon_orders_pipeline.sp_api.pages import Page

# includedData for the orders we keep: every section Amazon has, in the same call at no extra quota. BUYER (name,
# email) is asked for only when the account has PII on; so are the buyer's tax registrations (TAX), kept only then.
BASE_INCLUDED_DATA = ["RECIPIENT", "PROCEEDS", "FULFILLMENT", "PROMOTION", "CANCELLATION", "TAX", "PACKAGES",
                      "PAYMENT", "EXPENSE", "FULFILLMENT_ORDERS"]
# Amazon's list of PII inside the sections above; removed before landing when PII is off.
PII_ADDRESS_FIELDS = ("name", "companyName", "addressLine1", "addressLine2", "addressLine3", "postalCode",
                      "phone", "extendedFields")


def search_params(window: Window, marketplace_ids: list[str] | tuple[str, ...], pii: bool) -> dict:
    after, before = window.iso()
    included = BASE_INCLUDED_DATA + (["BUYER"] if pii else [])
    return {"lastUpdatedAfter": after, "lastUpdatedBefore": before, "marketplaceIds": list(marketplace_ids),
            "includedData": included, "maxResultsPerPage": 100}


def redact_pii(data: dict) -> dict:
    """Drop the fields Amazon lists as PII from a searchOrders page, keeping city, region and country."""
    for order in data.get("orders") or []:
        if not isinstance(order, dict):
            continue
        order.pop("buyer", None)
        tax = order.get("tax")
        if isinstance(tax, dict) and isinstance(tax.get("taxRegistrations"), list):
            # A business buyer's legal name, number and address can name a person (a sole trader).
            tax["taxRegistrations"] = [r for r in tax["taxRegistrations"]
                                       if not (isinstance(r, dict) and r.get("entityType") == "BUYER")]
        address = (order.get("recipient") or {}).get("deliveryAddress")
        if isinstance(address, dict):
            for name in PII_ADDRESS_FIELDS:
                address.pop(name, None)
        for item in order.get("orderItems") or []:
            if not isinstance(item, dict):
                continue
            (item.get("product") or {}).pop("customization", None)
            packing = (item.get("fulfillment") or {}).get("packing")
            gift = packing.get("giftOption") if isinstance(packing, dict) else None
            if isinstance(gift, dict):
                gift.pop("giftMessage", None)  # the wrap level is no one's data
    return data


class SearchOrdersSource(OrderSource):
    """searchOrders pages of a window."""

    api_version = API_VERSION
    operation = "searchOrders"

    def params(self, window: Window, marketplace_ids: list[str] | tuple[str, ...]) -> dict:
        return search_params(window, marketplace_ids, self.pii)

    def pages(self, params: dict, next_token: str | None, first_page: int) -> Iterator[Page]:
        return OrdersV2026(self.client).search_orders(params, next_token=next_token, first_page=first_page)

    def redact(self, data: dict) -> dict:
        return redact_pii(data)
