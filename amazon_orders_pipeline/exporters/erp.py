"""ERP sales-order documents (header plus lines by SKU, as a 1C-style import expects) as JSON Lines, and a flat
CSV of the lines for loaders that want tables."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from amazon_orders_pipeline.exporters.delivery import ExportFiles
from amazon_orders_pipeline.exporters.formats import csv_bytes, format_amount, iso_utc
from amazon_orders_pipeline.exporters.mappings import ExportMappings
from amazon_orders_pipeline.exporters.rows import LineRow, OrderRow

DOCUMENTS_NAME = "sales_orders.jsonl"
LINES_NAME = "sales_order_lines.csv"
LINE_FIELDS = ("order_number", "line_number", "order_item_id", "sku", "product_code", "quantity", "price",
               "amount", "tax", "tax_collected_by", "tax_liability", "currency", "status", "date")
PENDING = ("PENDING", "PENDING_AVAILABILITY")


def customer(order: OrderRow, pii: bool) -> dict:
    """Where the order goes, and (only with PII on) who gets it."""
    return {
        "name": order.pii(pii, "buyer_name") or order.pii(pii, "recipient_name"),
        "email": order.pii(pii, "buyer_email"),
        "phone": order.pii(pii, "phone"),
        "address_lines": [line for line in (order.pii(pii, "address_line1"), order.pii(pii, "address_line2"),
                                             order.pii(pii, "address_line3")) if line],
        "postal_code": order.pii(pii, "postal_code"),
        "city": order.city,
        "state_or_region": order.state_or_region,
        "country_code": order.country_code,
    }


def document(order: OrderRow, lines: Sequence[LineRow], mappings: ExportMappings, pii: bool) -> dict:
    currency = order.currency_code
    doc_lines = []
    for n, line in enumerate(lines, start=1):
        price = line.unit_price_amount
        line_currency = line.currency_code or currency
        doc_lines.append({
            "line_number": n,
            "order_item_id": line.order_item_id,
            "sku": line.sku,
            "product_code": mappings.sku_product_codes.get(line.sku or "", ""),
            "quantity": line.quantity_ordered,
            # Unit price, and the line amount as unit price x quantity: never a line total times the quantity.
            "price": format_amount(price, line_currency) or None,
            "amount": format_amount(price * line.quantity_ordered, line_currency) if price is not None else None,
            # Who collects and remits the line's tax. Where Amazon does (marketplace facilitator), the seller books
            # no tax liability: booked as the seller's, it would be paid twice.
            "tax": format_amount(line.tax_amount, line_currency) or None,
            "tax_collected_by": line.tax_collected_by,
            "tax_responsible_party": line.tax_responsible_party,
            "tax_liability": format_amount(line.tax_liability, line_currency) or None,
        })
    return {
        "number": order.order_id,
        "date": iso_utc(order.purchased_at),
        "account": order.account_id,
        "marketplace_id": order.marketplace_id,
        "currency": currency,
        "status": mappings.status("erp", order.order_status),
        "amazon_status": order.order_status,
        # Amazon ships these itself: the ERP must not ship them a second time.
        "fulfilled_by_amazon": order.fulfilled_by == "AMAZON",
        "total": format_amount(order.order_total_amount, currency) or None,
        "customer": customer(order, pii),
        "business": bool(order.is_business),
        # A business buyer's tax registration, for the invoice (with PII on only, as the marts hold it).
        "buyer_tax_registration": {
            "type": order.buyer_tax_registration_type, "number": order.buyer_tax_registration_number,
            "legal_name": order.buyer_legal_name} if order.pii(pii, "buyer_tax_registration_number") else None,
        "lines": doc_lines,
    }


def erp_export(orders: Iterable[OrderRow], lines_by_order: Mapping[str, Sequence[LineRow]],
               mappings: ExportMappings, *, account_id: str, partition: date, pii: bool) -> ExportFiles:
    documents = [document(o, lines_by_order.get(o.order_id, ()), mappings, pii)
                 for o in sorted(orders, key=lambda o: o.order_id)
                 if mappings.erp_include_pending or o.order_status not in PENDING]
    line_rows = [[d["number"], str(line["line_number"]), line["order_item_id"], line["sku"] or "",
                  line["product_code"], str(line["quantity"]), line["price"] or "", line["amount"] or "",
                  line["tax"] or "", line["tax_collected_by"] or "", line["tax_liability"] or "",
                  d["currency"] or "", d["status"], d["date"]]
                 for d in documents for line in d["lines"]]
    unmapped = Counter(line["sku"] or "" for d in documents for line in d["lines"] if not line["product_code"])
    jsonl = "".join(json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n" for d in documents)
    return ExportFiles(
        system="erp", account_id=account_id, partition=partition,
        files={DOCUMENTS_NAME: jsonl.encode("utf-8"), LINES_NAME: csv_bytes(LINE_FIELDS, line_rows)},
        rows={DOCUMENTS_NAME: len(documents), LINES_NAME: len(line_rows)}, primary=DOCUMENTS_NAME,
        manifest={"documents": len(documents), "lines": len(line_rows),
                  "pending_included": mappings.erp_include_pending,
                  "unmapped_skus": dict(sorted(unmapped.items()))},
    )
