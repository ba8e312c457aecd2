"""What must hold in the marts before a request goes to Amazon. A request that fails is refused with its reason and
never sent: an order Amazon fulfils (AFN) above all, then unknown orders, orders already shipped or cancelled, and
lines or quantities the order does not have."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from amazon_orders_pipeline.writes.mfn.files import CANCELLATION, SHIPMENT

SHIPPABLE = ("UNSHIPPED", "PARTIALLY_SHIPPED")
CANCELLABLE = ("PENDING", "PENDING_AVAILABILITY", "UNSHIPPED")


@dataclass(frozen=True)
class Decision:
    request_id: str
    account_id: str | None
    refused: str | None = None  # the reason, or None when the request may go
    body: dict | None = None  # what to send (shipments), or what the feed needs (cancellations)
    marketplace_id: str | None = None


def marts_ready(conn: duckdb.DuckDBPyConnection) -> bool:
    return conn.execute("select count(*) from information_schema.tables where table_schema = 'main' "
                        "and table_name in ('orders', 'order_items', 'order_packages')").fetchone()[0] == 3


def decide(conn: duckdb.DuckDBPyConnection, requests: list[dict]) -> list[Decision]:
    """A decision per received request, in order; quantities approved earlier in the list count as shipped."""
    if not requests:
        return []
    if not marts_ready(conn):
        return [Decision(r["request_id"], r["account_id"], "the marts have no orders yet: run the pipeline first")
                for r in requests]
    approved: dict[tuple[str, str, str], int] = {}  # (account, order, item) -> units approved in this pass
    out = []
    for request in requests:
        decision = _decide(conn, request, approved)
        out.append(decision)
    return out


def _decide(conn: duckdb.DuckDBPyConnection, request: dict, approved: dict) -> Decision:
    request_id, order_id = request["request_id"], request["order_id"]
    found = conn.execute(
        "select account_id, order_status, fulfilled_by, marketplace_id, fetched_at from main.orders "
        "where order_id = ? and (? is null or account_id = ?)",
        [order_id, request["account_id"], request["account_id"]]).fetchall()
    if not found:
        return Decision(request_id, request["account_id"], f"unknown order {order_id}: it is not in the marts "
                        "(another seller's, or not extracted yet: send it again once it is)")
    if len(found) > 1:
        return Decision(request_id, None, f"order {order_id} is in accounts {sorted(r[0] for r in found)}: "
                        "name its account_id")
    account_id, status, fulfilled_by, marketplace_id, fetched_at = found[0]

    def refuse(reason: str) -> Decision:
        return Decision(request_id, account_id, reason)

    if fulfilled_by != "MERCHANT":
        return refuse(f"order {order_id} is fulfilled by Amazon (AFN): Amazon ships and cancels it, not the "
                      "merchant")
    items = conn.execute(
        "select order_item_id, sku, quantity_ordered, coalesce(quantity_fulfilled, 0) from main.order_items "
        "where account_id = ? and order_id = ? order by order_item_id", [account_id, order_id]).fetchall()
    in_flight = _in_flight(conn, account_id, order_id, fetched_at, request_id)
    if request["kind"] == CANCELLATION:
        if status in ("SHIPPED", "PARTIALLY_SHIPPED") or in_flight:
            return refuse(f"order {order_id} has shipped items ({status}); a cancellation now would refund the "
                          "whole order")
        if status == "CANCELLED":
            return refuse(f"order {order_id} is already cancelled")
        if status not in CANCELLABLE:
            return refuse(f"order {order_id} is {status} and cannot be cancelled")
        return Decision(request_id, account_id, body={"items": [i[0] for i in items]}, marketplace_id=marketplace_id)
    assert request["kind"] == SHIPMENT
    if status == "SHIPPED":
        return refuse(f"order {order_id} is already shipped")
    if status == "CANCELLED":
        return refuse(f"order {order_id} is cancelled")
    if status not in SHIPPABLE:
        return refuse(f"order {order_id} is {status}: Amazon has not released it for shipping")
    details = json.loads(request["details"]) if isinstance(request["details"], str) else request["details"]
    by_id = {i[0]: i for i in items}
    wanted: dict[str, int] = {}
    for line in details["items"]:
        if line["order_item_id"]:
            item = by_id.get(line["order_item_id"])
            if item is None:
                return refuse(f"order {order_id} has no order item {line['order_item_id']}")
        else:
            matches = [i for i in items if i[1] == line["sku"]]
            if len(matches) != 1:
                return refuse(f"order {order_id} has {'no' if not matches else 'more than one'} line with SKU "
                              f"{line['sku']!r}" + ("" if not matches else ": name the order_item_id"))
            item = matches[0]
        wanted[item[0]] = wanted.get(item[0], 0) + line["quantity"]
    for item_id, quantity in wanted.items():
        _, sku, ordered, fulfilled = by_id[item_id]
        left = ordered - fulfilled - in_flight.get(item_id, 0) - approved.get((account_id, order_id, item_id), 0)
        if quantity > left:
            return refuse(f"quantity {quantity} of order item {item_id} ({sku}) is more than the {max(left, 0)} "
                          f"unit(s) of it not yet shipped")
    for item_id, quantity in wanted.items():
        approved[(account_id, order_id, item_id)] = approved.get((account_id, order_id, item_id), 0) + quantity
    detail = {"packageReferenceId": request["package_reference_id"], "carrierCode": details["carrier_code"],
              "trackingNumber": details["tracking_number"], "shipDate": details["ship_date"],
              "orderItems": [{"orderItemId": i, "quantity": q} for i, q in sorted(wanted.items())]}
    if details.get("carrier_name"):
        detail["carrierName"] = details["carrier_name"]
    if details.get("shipping_method"):
        detail["shippingMethod"] = details["shipping_method"]
    return Decision(request_id, account_id, body={"marketplaceId": marketplace_id, "packageDetail": detail},
                    marketplace_id=marketplace_id)


def _in_flight(conn: duckdb.DuckDBPyConnection, account_id: str, order_id: str, fetched_at, request_id: str
               ) -> dict[str, int]:
    """Units of the order's items in packages sent (or being sent) that the marts' version may not show yet: sent
    after that version was fetched. The request itself is left out (sending it again edits it)."""
    out: dict[str, int] = {}
    for (body,) in conn.execute(
            "select request_body from writeback.requests where kind = 'shipment' and account_id = ? "
            "and order_id = ? and request_id <> ? and (status = 'sending' or (status in ('sent', 'confirmed') "
            "and sent_at > ?))", [account_id, order_id, request_id, fetched_at]).fetchall():
        for item in json.loads(body)["packageDetail"]["orderItems"]:
            out[item["orderItemId"]] = out.get(item["orderItemId"], 0) + item["quantity"]
    return out
