"""The seller's money as the emulator knows it (its ground truth, served by /_emulator/money_truth): what each order
got and paid as of a moment, per column of the money marts, the fees without an order, and the settlements. The
categories come from what each breakdown group means here, not from the pipeline's mapping file, so a wrong mapping
shows when the marts are held against it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from amazon_orders_pipeline.emulator.money import Posting
from amazon_orders_pipeline.emulator.values import iso

SALE_GROUPS = {"ProductCharges": "product_charges", "Shipping": "shipping", "GiftWrap": "gift_wrap",
               "CODCharges": "other_charges", "Tax": "tax", "Promotions": "promotions",
               "ItemWithheldTax": "tax_withheld", "PointsCost": "points_cost"}
FEES = {"Commission": "commission", "FBAPerUnitFulfillmentFee": "fba_fulfillment_fee",
        "ShippingChargeback": "shipping_chargeback"}
ACCOUNT_FEES = {"Subscription": "subscription", "FBAStorageFee": "storage", "FBAInboundPlacementServiceFee": "inbound",
                "WAREHOUSE_DAMAGE": "reimbursement"}
COLUMNS = ("product_charges", "shipping", "gift_wrap", "other_charges", "tax", "promotions", "tax_withheld",
           "commission", "fba_fulfillment_fee", "shipping_chargeback", "points_cost", "refunded_principal",
           "refunded_tax", "fees_credited_back", "refund_commission", "net_proceeds", "deferred_amount")


def category(transaction_type: str, path: tuple[str, ...]) -> str:
    group = path[0]
    if transaction_type == "Shipment":
        return FEES[path[1]] if group == "AmazonFees" else SALE_GROUPS[group]
    if group == "AmazonFees":
        return "refund_commission" if path[1] == "RefundCommission" else "fees_credited_back"
    if group in ("Tax",):
        return "refunded_tax"
    return "tax_withheld" if group == "ItemWithheldTax" else "refunded_principal"


def listed(postings: list[Posting], as_of: datetime) -> list[Posting]:
    return [p for p in postings if p.listable_at <= as_of]


def order_money(postings: list[Posting], as_of: datetime, by_sku: bool = False) -> dict[tuple, dict[str, Decimal]]:
    """{(order id, currency) or (order id, sku, currency): {column: amount}} over postings with an order."""
    out: dict[tuple, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for p in postings:
        if p.order_id is None:
            continue
        for item in p.items:
            row = out[(p.order_id, item.sku, p.currency) if by_sku else (p.order_id, p.currency)]
            for path, amount in item.leaves:
                row[category(p.transaction_type, path)] += amount
                row["net_proceeds"] += amount
                if p.status_as_of(as_of) == "DEFERRED":
                    row["deferred_amount"] += amount
    return {key: {c: row.get(c, Decimal(0)) for c in COLUMNS} for key, row in out.items()}


def account_fee_rows(postings: list[Posting]) -> list[tuple]:
    """(transaction id, fee kind, amount, currency) of every posting without an order, sorted."""
    return sorted((p.transaction_id, ACCOUNT_FEES[p.leaves[0][0][1]], p.total, p.currency)
                  for p in postings if p.order_id is None)


def truth_report(ledger, settlements, seller: str, start: datetime, end: datetime, as_of: datetime,
                 marketplace_ids: set[str] | None = None) -> dict:
    """The money posted in [start, end) and listed by `as_of`, as JSON: each order's columns (amounts as decimal
    strings), the fees without an order, and every settlement getReports lists at `as_of`."""
    postings = [p for p in listed(ledger.posted_in(seller, start, end), as_of)
                if not marketplace_ids or p.marketplace_id in marketplace_ids]
    currencies = {p.currency for p in postings}
    return {
        "as_of": iso(as_of),
        "orders": [{"order_id": order_id, "currency_code": currency, **{c: str(v) for c, v in row.items()}}
                   for (order_id, currency), row in sorted(order_money(postings, as_of).items())],
        "account_fees": [{"transaction_id": t, "fee_kind": kind, "amount": str(amount), "currency_code": currency}
                         for t, kind, amount, currency in account_fee_rows(postings)],
        "settlements": [{"settlement_id": s.settlement_id, "currency_code": s.currency,
                         "start_date": s.start.isoformat(), "end_date": s.end.isoformat(),
                         "deposit_date": s.deposit_date.date().isoformat(), "total_amount": str(s.total),
                         "line_count": len(s.lines)}
                        for s in settlements.listed(seller, as_of) if not currencies or s.currency in currencies],
    }
