"""The money marts against the emulator's ground truth: what `order_financials`, `order_item_financials` and
`account_fees` must hold for the transactions a seller's emulator lists as of a moment. The categories come from
what each breakdown group means here, not from the pipeline's mapping file, so a wrong mapping shows."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from amazon_orders_pipeline.emulator.money import Posting

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
