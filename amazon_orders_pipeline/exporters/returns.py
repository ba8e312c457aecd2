"""Returns for the loaders, per report day and account.

- The ERP's return documents: one per return, that is the units of one order that came back through one network on
  that day (a fulfilment centre's processing day for FBA, the request day for an MFN RMA). Each holds a credit note
  (the returned quantities by SKU and what the paired refunds paid back) and a stock receipt by SKU and disposition:
  sellable units go back to stock, the others do not; an MFN return has no disposition (the merchant inspects it),
  so its receipt leaves that to the ERP.
- Salesforce: the return fields of the order sync (External_Order_Sync__c, upserted on the order id) for each order
  with a return that day, as totals over all its returns, so the latest file always holds the current values. Only
  orders the marts hold: an upsert of any other would create a sync record with nothing but its returns."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby

from amazon_orders_pipeline.exporters.delivery import ExportFiles
from amazon_orders_pipeline.exporters.formats import csv_bytes, format_amount
from amazon_orders_pipeline.exporters.mappings import ExportMappings
from amazon_orders_pipeline.exporters.salesforce import upsert_job

DOCUMENTS_NAME = "return_documents.jsonl"
SALESFORCE_NAME = "order_returns.csv"
SALESFORCE_FIELDS = ("ExternalId__c", "ReturnedQuantity__c", "ReturnRefundedAmount__c", "ReturnsCurrency__c",
                     "LastReturnDate__c")
BACK_TO_STOCK = "SELLABLE"


@dataclass(frozen=True)
class ReturnRow:
    """One order_returns row, as the export reads it."""

    order_id: str
    sku: str
    return_key: str
    return_date: date
    fulfilled_by: str
    quantity: int
    reason_code: str | None
    disposition: str | None
    refund_id: str | None
    refunded_amount: Decimal | None
    refunded_at: datetime | None
    currency_code: str | None
    order_known: bool


@dataclass(frozen=True)
class OrderReturnTotals:
    """An order's returns in all: units, what the paired refunds paid back, the last return's day."""

    order_id: str
    returned_quantity: int
    refunded_amount: Decimal
    currency_code: str | None
    last_return_date: date


def salesforce_returns(rows: Sequence[OrderReturnTotals], *, account_id: str, partition: date) -> ExportFiles:
    records = [[r.order_id, str(r.returned_quantity),
                format_amount(r.refunded_amount, r.currency_code, max_digits=2), r.currency_code or "",
                r.last_return_date.isoformat()] for r in sorted(rows, key=lambda r: r.order_id)]
    return ExportFiles(system="salesforce_returns", account_id=account_id, partition=partition,
                       files={SALESFORCE_NAME: csv_bytes(SALESFORCE_FIELDS, records)},
                       rows={SALESFORCE_NAME: len(records)}, primary=SALESFORCE_NAME,
                       manifest=upsert_job(SALESFORCE_NAME))


def return_document(rows: Sequence[ReturnRow], mappings: ExportMappings, account_id: str) -> dict:
    """The document of one return: rows of one order, network and day."""
    first = rows[0]
    amazon = first.fulfilled_by == "AMAZON"
    currency = next((r.currency_code for r in rows if r.currency_code), None)
    credit: dict[str, dict] = {}
    receipt: Counter = Counter()
    for r in rows:
        line = credit.setdefault(r.sku, {"quantity": 0, "refunded": Decimal(0), "refund_ids": set()})
        line["quantity"] += r.quantity
        line["refunded"] += r.refunded_amount or Decimal(0)
        if r.refund_id:
            line["refund_ids"].add(r.refund_id)
        receipt[r.sku, r.disposition] += r.quantity
    return {
        "number": f"RET-{first.order_id}-{first.return_date:%Y%m%d}-{'FBA' if amazon else 'MFN'}",
        "order_number": first.order_id,
        # False: the marts do not hold the order (older than the history loaded): the ERP may not know it either.
        "order_known": first.order_known,
        "date": first.return_date.isoformat(),
        "account": account_id,
        "fulfilled_by_amazon": amazon,
        "currency": currency,
        "return_keys": sorted({r.return_key for r in rows}),
        "reasons": sorted({r.reason_code for r in rows if r.reason_code}),
        "credit_note": {
            "total": format_amount(sum((c["refunded"] for c in credit.values()), Decimal(0)), currency),
            "lines": [{"sku": sku, "product_code": mappings.sku_product_codes.get(sku, ""),
                       "quantity": c["quantity"], "refunded": format_amount(c["refunded"], currency),
                       "refund_ids": sorted(c["refund_ids"])} for sku, c in sorted(credit.items())]},
        "stock_receipt": {
            "warehouse": "AMAZON_FBA" if amazon else "MERCHANT",
            "lines": [{"sku": sku, "product_code": mappings.sku_product_codes.get(sku, ""), "quantity": quantity,
                       "disposition": disposition,
                       "to_stock": (disposition == BACK_TO_STOCK) if amazon else None}
                      for (sku, disposition), quantity in sorted(receipt.items(), key=lambda x: (x[0][0],
                                                                                                   x[0][1] or ""))]},
    }


def erp_returns(rows: Sequence[ReturnRow], mappings: ExportMappings, *, account_id: str,
                partition: date) -> ExportFiles:
    ordered = sorted(rows, key=lambda r: (r.order_id, r.fulfilled_by, r.sku, r.return_key))
    documents = [return_document(list(group), mappings, account_id)
                 for _, group in groupby(ordered, key=lambda r: (r.order_id, r.fulfilled_by))]
    unmapped = Counter(line["sku"] for d in documents for line in d["credit_note"]["lines"]
                       if not line["product_code"])
    jsonl = "".join(json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n" for d in documents)
    return ExportFiles(system="erp_returns", account_id=account_id, partition=partition,
                       files={DOCUMENTS_NAME: jsonl.encode("utf-8")}, rows={DOCUMENTS_NAME: len(documents)},
                       primary=DOCUMENTS_NAME,
                       manifest={"documents": len(documents), "units": sum(r.quantity for r in rows),
                                 "unmapped_skus": dict(sorted(unmapped.items()))})
