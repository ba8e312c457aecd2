"""The bad-input corpus: synthetic searchOrders page bodies, each with the outcome the pipeline must reach.

A case is served by the emulator byte for byte, then extracted, loaded and transformed like any page. Its outcome:
- `loaded`: every order record is staged (`staged` versions);
- `quarantined`: the bad records are in staging.quarantine with the given reason, the rest staged;
- `fails`: the run fails with a message containing `message`, and nothing of the partition is loaded.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field


@dataclass
class Case:
    name: str
    pages: list[bytes]
    outcome: str  # loaded | quarantined | fails
    staged: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # reason fragment -> records
    message: str = ""


def order(n: int, **changes) -> dict:
    """A valid v2026 order (ids from n), with `changes` applied: {"a.b.c": value}, or DELETE to remove."""
    o = {
        "orderId": f"111-0000000-{n:07d}",
        "createdTime": "2026-11-18T10:00:00Z",
        "lastUpdatedTime": "2026-11-18T12:00:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER", "marketplaceName": "Amazon.com"},
        "fulfillment": {"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT"},
        "proceeds": {"grandTotal": {"amount": "21.60", "currencyCode": "USD"}},
        "recipient": {"deliveryAddress": {"city": "Seattle", "stateOrRegion": "WA", "countryCode": "US",
                                          "addressType": "RESIDENTIAL", "addressLine2": ""}},
        "orderItems": [{
            "orderItemId": f"{n:014d}",
            "quantityOrdered": 2,
            "product": {"asin": "B0CORPUS01", "sellerSku": "SKU-1", "title": "Corpus item",
                        "price": {"unitPrice": {"amount": "10.00", "currencyCode": "USD"}}},
            "proceeds": {"proceedsTotal": {"amount": "21.60", "currencyCode": "USD"},
                         "breakdowns": [{"type": "ITEM", "subtotal": {"amount": "20.00", "currencyCode": "USD"}},
                                        {"type": "TAX", "subtotal": {"amount": "1.60", "currencyCode": "USD"}}]},
            "fulfillment": {"quantityFulfilled": 2, "quantityUnfulfilled": 0},
        }],
    }
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = o
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            if int(last) == len(node):
                node.append(value)
            else:
                node[int(last)] = value
        else:
            node[last] = value
    return o


DELETE = object()


def page(orders: list, next_token: str | None = None, **extra) -> bytes:
    body = {"orders": orders, **extra}
    if next_token:
        body["pagination"] = {"nextToken": next_token}
    return json.dumps(body).encode()


def pages(*order_lists: list) -> list[bytes]:
    """Several pages chained by tokens, as the API pages them."""
    return [page(orders, f"corpus-token-{i + 2}" if i + 1 < len(order_lists) else None)
            for i, orders in enumerate(order_lists)]


def loaded(name: str, bodies: list[bytes], staged: int) -> Case:
    return Case(name, bodies, "loaded", staged=staged)


def quarantined(name: str, bad: dict, reason: str, good: int = 1) -> Case:
    """One page: `good` valid orders and one bad one."""
    return Case(name, [page([order(i) for i in range(good)] + [bad])], "quarantined", staged=good,
                reasons={reason: 1})


def fails(name: str, bodies: list[bytes], message: str) -> Case:
    return Case(name, bodies, "fails", message=message)


def big_page(megabytes: int) -> bytes:
    """One page of about `megabytes` MB: orders whose titles are long."""
    title = "A long, valid, UTF-8 title " * 200
    orders = []
    size = 0
    while size < megabytes * 1_000_000:
        o = order(len(orders), **{"orderItems.0.product.title": title})
        orders.append(o)
        size += len(json.dumps(o))
    return page(orders)


def cases() -> list[Case]:
    changed_later = order(5, **{"fulfillment.fulfillmentStatus": "SHIPPED",
                                "lastUpdatedTime": "2026-11-18T20:00:00Z"})
    changed_earlier = order(5, **{"fulfillment.fulfillmentStatus": "UNSHIPPED"})
    pending = order(6, **{"fulfillment.fulfillmentStatus": "PENDING", "proceeds": DELETE,
                          "orderItems.0.proceeds": DELETE, "orderItems.0.product.price": DELETE})
    many_items = order(7)
    many_items["orderItems"] = [dict(copy.deepcopy(many_items["orderItems"][0]), orderItemId=f"{i:014d}")
                                for i in range(60)]
    many_items["proceeds"]["grandTotal"]["amount"] = "1296.00"
    return [
        # loaded
        loaded("one valid order", [page([order(1)])], 1),
        loaded("an empty page", [page([])], 0),
        loaded("a second page that is empty", pages([order(1), order(2)], []), 2),
        loaded("amounts as JSON numbers", [page([order(1, **{"proceeds.grandTotal.amount": 21.6})])], 1),
        loaded("quantity as a string", [page([order(1, **{"orderItems.0.quantityOrdered": "2"})])], 1),
        loaded("timestamps with an offset", [page([order(1, lastUpdatedTime="2026-11-18T14:00:00+02:00",
                                                         createdTime="2026-11-18T05:00:00-05:00")])], 1),
        loaded("fractional seconds", [page([order(1, lastUpdatedTime="2026-11-18T12:00:00.123Z")])], 1),
        loaded("a negative (discount) subtotal", [page([order(1, **{
            "orderItems.0.proceeds.breakdowns.2": {"type": "DISCOUNT",
                                                   "subtotal": {"amount": "-2.00", "currencyCode": "USD"}},
            "orderItems.0.proceeds.proceedsTotal.amount": "19.60", "proceeds.grandTotal.amount": "19.60"})])], 1),
        loaded("the same order on two pages", pages([order(1), order(2)], [order(2), order(3)]), 4),
        loaded("an order that changes between page 1 and page 3",
               pages([changed_earlier], [order(8)], [changed_later]), 3),
        loaded("unknown extra fields", [page([order(1, **{"novelField": {"x": [1, 2]}})], extraTopLevel=True)], 1),
        loaded("a Pending order without money", [page([pending])], 1),
        loaded("empty strings", [page([order(1, **{"recipient.deliveryAddress.addressLine2": "",
                                                   "orderItems.0.product.title": ""})])], 1),
        loaded("an order with no items", [page([order(1, orderItems=[])])], 1),
        loaded("non-ASCII UTF-8 text", [page([order(1, **{"orderItems.0.product.title": "Café ✓ 日本語"})])], 1),
        # Consistent money (line total = unit price x quantity is a production rule).
        loaded("a huge quantity", [page([order(1, **{
            "orderItems.0.quantityOrdered": 1000000,
            "orderItems.0.proceeds.breakdowns.0.subtotal.amount": "10000000.00",
            "orderItems.0.proceeds.proceedsTotal.amount": "10000001.60",
            "proceeds.grandTotal.amount": "10000001.60"})])], 1),
        loaded("sixty items", [page([many_items])], 1),
        loaded("a 50 MB page", [big_page(50)], -1),  # -1: every order on the page
        loaded("unknown programs", [page([order(1, programs=["SOMETHING_NEW"])])], 1),
        # quarantined
        quarantined("no orderId", order(9, orderId=DELETE), "missing orderId"),
        quarantined("an empty orderId", order(9, orderId=""), "missing orderId"),
        quarantined("orderId null", order(9, orderId=None), "missing orderId"),
        quarantined("no lastUpdatedTime", order(9, lastUpdatedTime=DELETE), "unparseable lastUpdatedTime"),
        quarantined("an epoch-float date", order(9, lastUpdatedTime="1.569521782042E9"),
                    "unparseable lastUpdatedTime: 1.569521782042E9"),
        quarantined("a date in words", order(9, createdTime="yesterday"), "unparseable createdTime"),
        quarantined("an unknown status", order(9, **{"fulfillment.fulfillmentStatus": "LOST"}),
                    "unknown fulfillmentStatus: LOST"),
        quarantined("a v0 status spelling", order(9, **{"fulfillment.fulfillmentStatus": "Canceled"}),
                    "unknown fulfillmentStatus: Canceled"),
        quarantined("an unknown fulfilledBy", order(9, **{"fulfillment.fulfilledBy": "DRONE"}),
                    "unknown fulfilledBy: DRONE"),
        quarantined("an amount with a thousands comma", order(9, **{"proceeds.grandTotal.amount": "1,234.50"}),
                    "non-numeric grandTotal amount: 1,234.50"),
        quarantined("a huge amount", order(9, **{"proceeds.grandTotal.amount": "1e30"}),
                    "grandTotal amount out of range"),
        quarantined("NaN as an amount", order(9, **{"proceeds.grandTotal.amount": "NaN"}), "grandTotal amount"),
        quarantined("a word as a unit price", order(9, **{"orderItems.0.product.price.unitPrice.amount": "ten"}),
                    "non-numeric unitPrice amount: ten"),
        quarantined("a bad breakdown amount",
                    order(9, **{"orderItems.0.proceeds.breakdowns.1.subtotal.amount": "1.6.0"}),
                    "non-numeric proceeds breakdown amount"),
        quarantined("no orderItemId", order(9, **{"orderItems.0.orderItemId": DELETE}), "missing orderItemId"),
        quarantined("a fractional quantity", order(9, **{"orderItems.0.quantityOrdered": "2.5"}),
                    "quantityOrdered is not a whole number: 2.5"),
        quarantined("a quantity in words", order(9, **{"orderItems.0.quantityOrdered": "two"}),
                    "quantityOrdered is not a whole number"),
        quarantined("no orderItems", order(9, orderItems=DELETE), "missing orderItems"),
        quarantined("orderItems as an object", order(9, orderItems={"orderItemId": "1"}), "missing orderItems"),
        quarantined("currencies that disagree within one order",
                    order(9, **{"orderItems.0.proceeds.proceedsTotal.currencyCode": "EUR",
                                "orderItems.0.product.price.unitPrice.currencyCode": "EUR"}),
                    "currencies disagree within the order: USD vs EUR"),
        quarantined("an order that is a string", "not an order", "missing orderId"),
        quarantined("an order that is null", None, "missing orderId"),
        Case("good and bad records on one page",
             [page([order(1), order(2, orderId=DELETE), order(3), order(4, createdTime="soon"), order(5)])],
             "quarantined", staged=3, reasons={"missing orderId": 1, "unparseable createdTime": 1}),
        # the run fails, naming the page
        fails("malformed JSON", [page([order(1)])[:-7]], "unreadable body"),
        fails("a JSON array instead of an object", [b"[1, 2, 3]"], "unreadable body"),
        fails("a page without an orders list", [b'{"pagination": {}}'], "has no orders list"),
        fails("orders as an object", [b'{"orders": {"orderId": "1"}}'], "has no orders list"),
        fails("non-UTF-8 bytes", [page([order(1)]).replace(b"Corpus item", b"Corpus \xff\xfe item")],
              "unreadable body"),
    ]
