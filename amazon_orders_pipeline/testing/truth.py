"""The marts against the emulator's ground truth: what `orders` and `order_items` must hold for a seller's orders,
and what they do hold. Shared by the tests and the benchmarks that check correctness."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.testing.control import EmulatorControl


def expected_rows(orders: list[dict]) -> tuple[list[tuple], list[tuple]]:
    """What `orders` and `order_items` must hold for these v2026-shaped ground-truth orders: ids, statuses,
    totals, quantities and unit prices, sorted."""
    expected_orders = sorted(
        (o["orderId"], o["fulfillment"]["fulfillmentStatus"],
         Decimal(o["proceeds"]["grandTotal"]["amount"]) if "proceeds" in o else None,
         o["proceeds"]["grandTotal"]["currencyCode"] if "proceeds" in o else None)
        for o in orders)
    expected_items = sorted(
        (o["orderId"], i["orderItemId"], i["quantityOrdered"],
         Decimal(i["product"]["price"]["unitPrice"]["amount"]) if "price" in i["product"] else None)
        for o in orders for i in o["orderItems"])
    return expected_orders, expected_items


def mart_rows(conn: duckdb.DuckDBPyConnection, account_id: str) -> tuple[list[tuple], list[tuple]]:
    """The same columns from the marts, for one account, sorted alike."""
    orders = conn.execute(
        "select order_id, order_status, order_total_amount, "
        "case when order_total_amount is null then null else currency_code end "
        "from main.orders where account_id = ? order by all", [account_id]).fetchall()
    items = conn.execute(
        "select order_id, order_item_id, quantity_ordered, unit_price_amount from main.order_items "
        "where account_id = ? order by all", [account_id]).fetchall()
    return orders, items


def window_truth(state, refresh_token: str, start: datetime, end: datetime,
                 marketplaces: set[str]) -> tuple[list[dict], set[str]]:
    """From an in-process emulator's state: the seller's orders last updated in [start, end), as the API shows them
    now, and the ids of the orders it has changed again since `end` (see `marts_and_truth`)."""
    now = state.clock.now()
    seller = seller_key(refresh_token)
    truth = state.true_window_orders(seller, start, end, now, marketplaces)
    later = state.true_window_orders(seller, end, now + timedelta(days=1), now, marketplaces)
    return [o.to_api(now) for o in truth], {o.order_id for o in later}


def marts_and_truth(conn: duckdb.DuckDBPyConnection, account_id: str, truth: list[dict],
                    moved: set[str]) -> tuple[list[tuple], list[tuple]]:
    """(marts, truth) as tagged rows ("order", …) and ("item", …). Orders in `moved` (changed again after the
    window) are left out on both sides: the truth no longer places them in the window, while the marts rightly
    hold the version they saw."""
    want_orders, want_items = expected_rows([o for o in truth if o["orderId"] not in moved])
    got_orders, got_items = mart_rows(conn, account_id)
    got = [("order", *r) for r in got_orders if r[0] not in moved] + \
          [("item", *r) for r in got_items if r[0] not in moved]
    return got, [("order", *r) for r in want_orders] + [("item", *r) for r in want_items]


def orders_against_truth(db: warehouse.Location, control: EmulatorControl, account_id: str, start: datetime,
                         end: datetime, marketplace_ids: list[str]) -> tuple[list[tuple], list[tuple]]:
    """(marts, emulator) for one account's orders and order lines changed in [start, end), as `marts_and_truth`
    compares them; orders the emulator changed again since `end` are left out."""
    truth, moved = control_truth(control, account_id, start, end, marketplace_ids)
    with warehouse.connect(db, read_only=True) as conn:
        return marts_and_truth(conn, account_id, truth, moved)


def control_truth(control: EmulatorControl, account_id: str, start: datetime, end: datetime,
                  marketplace_ids: list[str]) -> tuple[list[dict], set[str]]:
    """Over the emulator's control endpoint: the account's orders last updated in [start, end), and the ids of those
    it has changed again since `end`."""
    token = emulator_refresh_token(account_id)
    truth = control.ground_truth(token, start, end, marketplace_ids)
    moved = {o["orderId"] for o in control.ground_truth(token, end, datetime.now(UTC) + timedelta(days=1),
                                                        marketplace_ids)}
    return truth, moved


def orders_against_truth_by_sku(db: warehouse.Location, control: EmulatorControl, account_id: str,
                                start: datetime, end: datetime, marketplace_ids: list[str],
                                api_version: str | None = None) -> tuple[dict, dict]:
    """(marts, emulator) for marts that may hold orders from order reports, whose lines have no item id in some
    headers: the orders as (id, status), and the lines summed by (order, SKU) as quantities and line totals.
    Orders the emulator changed again since `end` are left out on both sides. `api_version`: only the marts' orders
    whose current version came from that source."""
    truth, moved = control_truth(control, account_id, start, end, marketplace_ids)
    truth = [o for o in truth if o["orderId"] not in moved]
    want = {"orders": sorted((o["orderId"], o["fulfillment"]["fulfillmentStatus"]) for o in truth),
            "quantities": Counter(), "totals": {}}
    for o in truth:
        for i in o["orderItems"]:
            key = (o["orderId"], i["product"]["sellerSku"])
            want["quantities"][key] += i["quantityOrdered"]
            if "price" in i["product"]:
                want["totals"][key] = want["totals"].get(key, 0) + \
                    Decimal(i["product"]["price"]["unitPrice"]["amount"]) * i["quantityOrdered"]
    with warehouse.connect(db, read_only=True) as conn:
        source = "" if api_version is None else " and api_version = ?"
        params = [account_id] + ([] if api_version is None else [api_version])
        orders = conn.execute("select order_id, order_status from main.orders where account_id = ?" + source
                              + " order by all", params).fetchall()
        lines = conn.execute("select order_id, sku, sum(quantity_ordered), sum(line_total_amount) "
                             "from main.order_items where account_id = ? group by all", [account_id]).fetchall()
    got = {"orders": [o for o in orders if o[0] not in moved],
           "quantities": Counter({(o, s): q for o, s, q, _ in lines if o not in moved}),
           "totals": {(o, s): t for o, s, _, t in lines if t is not None and o not in moved}}
    return got, want


# The time zone each of the emulator's marketplaces shows its dates in (the dbt project's macros/marketplaces.sql
# says the same for every marketplace; this is the test's own statement of it).
MARKETPLACE_ZONES = {"ATVPDKIKX0DER": "America/Los_Angeles", "A1F83G8C2ARO7P": "Europe/London",
                     "A1PA6795UKMFR9": "Europe/Berlin", "A1VC38T7YXB528": "Asia/Tokyo"}


def expected_sections(orders: list[dict], pii: bool) -> dict[str, list[tuple]]:
    """What the marts must hold of the sections beyond the basics (tax, payment, points, packages, local dates) for
    these v2026-shaped ground-truth orders, sorted. The buyer's tax registration only with PII on."""
    from zoneinfo import ZoneInfo

    def amount(money: dict | None) -> Decimal | None:
        return Decimal(money["amount"]) if money else None

    want: dict[str, list[tuple]] = {"orders": [], "items": [], "packages": [], "registrations": []}
    for o in orders:
        created = datetime.fromisoformat(o["createdTime"])
        methods = sorted({p["paymentMethod"] for p in (o.get("payment") or {}).get("paymentExecutions", [])})
        points = [amount(i.get("expense", {}).get("pointsCost", {}).get("pointsGranted", {})
                         .get("pointsMonetaryValue")) for i in o["orderItems"]]
        zone = MARKETPLACE_ZONES[o["salesChannel"]["marketplaceId"]]
        want["orders"].append((o["orderId"], ", ".join(methods) or None,
                               sum(p for p in points if p) if any(points) else None,
                               created.astimezone(ZoneInfo(zone)).date(), zone))
        for i, p in zip(o["orderItems"], points, strict=True):
            collection = (i.get("tax") or {}).get("taxCollections", [{}])[0]
            scheme = (i.get("tax") or {}).get("taxCalculationBreakdowns", [{}])[0]
            granted = i.get("expense", {}).get("pointsCost", {}).get("pointsGranted", {})
            want["items"].append((o["orderId"], i["orderItemId"], collection.get("model"),
                                  collection.get("responsibleParty"), scheme.get("reportingScheme"),
                                  granted.get("pointsNumber"), p))
        for p in o.get("packages", []):
            want["packages"].append((o["orderId"], p["packageReferenceId"], p["carrier"], p["trackingNumber"],
                                     p["packageStatus"]["status"], p["packageStatus"].get("detailedStatus"),
                                     datetime.fromisoformat(p["shipTime"]),
                                     sum(x["quantity"] for x in p["packageItems"])))
        for r in (o.get("tax") or {}).get("taxRegistrations", []):
            if r["entityType"] != "BUYER" or pii:
                want["registrations"].append((o["orderId"], r["entityType"], r.get("taxRegistrationType"),
                                              r["taxRegistrationNumber"], r["legalName"]))
    return {k: sorted(v, key=repr) for k, v in want.items()}


SECTION_QUERIES = {
    "orders": "select order_id, payment_method, points_cost_amount, purchase_date_local, marketplace_time_zone "
              "from main.orders where account_id = ?",
    "items": "select order_id, order_item_id, tax_collection_model, tax_responsible_party, tax_reporting_scheme, "
             "points_granted, points_cost_amount from main.order_items where account_id = ?",
    "packages": "select order_id, package_reference_id, carrier, tracking_number, package_status, "
                "package_detailed_status, shipped_at, quantity from main.order_packages where account_id = ?",
    "registrations": "select order_id, entity_type, registration_type, registration_number, legal_name "
                     "from main.order_tax_registrations where account_id = ?",
}


def sections_against_truth(db: warehouse.Location, control: EmulatorControl, account_id: str, start: datetime,
                           end: datetime, marketplace_ids: list[str], pii: bool) -> tuple[dict, dict]:
    """(marts, emulator) for the sections of `expected_sections`, orders changed again since `end` left out."""
    truth, moved = control_truth(control, account_id, start, end, marketplace_ids)
    want = expected_sections([o for o in truth if o["orderId"] not in moved], pii)
    with warehouse.connect(db, read_only=True) as conn:
        got = {name: sorted((r for r in conn.execute(sql, [account_id]).fetchall() if r[0] not in moved), key=repr)
               for name, sql in SECTION_QUERIES.items()}
    return got, want
