"""The money after the sale for the loaders: per posted day, a Salesforce upsert of each order's financials (keyed on
the order id, as the order sync is) and the ERP's fee and refund lines per sales order; per settlement, the ERP's
journal document (the deposit, and the money it is made of by kind, with the orders each kind belongs to)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from amazon_orders_pipeline.exporters.delivery import ExportFiles
from amazon_orders_pipeline.exporters.formats import csv_bytes, format_amount, iso_utc, iso_utc_millis
from amazon_orders_pipeline.exporters.salesforce import upsert_job

SALESFORCE_NAME = "order_financials.csv"
SALESFORCE_FIELDS = ("ExternalId__c", "NetProceeds__c", "AmazonFees__c", "Refunds__c", "DeferredAmount__c",
                     "FinancialsCurrency__c", "FinancialsPostedAt__c")
ERP_LINES_NAME = "sales_order_financials.jsonl"
# The ERP's lines of a sales order's money, from order_financials: (line kind, its columns).
ORDER_LINES = (
    ("commission", ("commission",)),
    ("fba_fulfillment_fee", ("fba_fulfillment_fee",)),
    ("shipping_chargeback", ("shipping_chargeback",)),
    ("other_fees", ("other_fees", "points_cost")),
    ("tax_withheld", ("tax_withheld",)),
    ("refund", ("refunded_principal", "refunded_tax")),
    ("fees_credited_back", ("fees_credited_back",)),
    ("refund_commission", ("refund_commission",)),
    ("unmapped", ("unmapped_amount",)),
)
FEES = ("commission", "fba_fulfillment_fee", "shipping_chargeback", "other_fees")
# A settlement line's category -> the journal's kind.
JOURNAL_KINDS = {"product_charges": "sales", "shipping": "sales", "gift_wrap": "sales", "other_charges": "sales",
                 "tax": "sales_tax", "promotions": "promotions", "tax_withheld": "tax_withheld",
                 "refunded_principal": "refunds", "refunded_tax": "refunds", "fees_credited_back": "refunds",
                 "refund_commission": "refunds", "reserve": "reserves"}


@dataclass(frozen=True)
class Financials:
    """One order_financials row, as the exports read it."""

    order_id: str
    currency_code: str
    values: dict[str, Decimal]
    last_posted_at: datetime

    def sum(self, columns: Iterable[str]) -> Decimal:
        return sum((self.values[c] for c in columns), Decimal(0))


def salesforce_financials(rows: Sequence[Financials], *, account_id: str, partition: date) -> ExportFiles:
    records = [[r.order_id,
                format_amount(r.values["net_proceeds"], r.currency_code, max_digits=2),
                format_amount(r.sum(FEES), r.currency_code, max_digits=2),
                format_amount(r.sum(("refunded_principal", "refunded_tax")), r.currency_code, max_digits=2),
                format_amount(r.values["deferred_amount"], r.currency_code, max_digits=2),
                r.currency_code, iso_utc_millis(r.last_posted_at)] for r in sorted(rows, key=lambda r: r.order_id)]
    return ExportFiles(
        system="salesforce_financials", account_id=account_id, partition=partition,
        files={SALESFORCE_NAME: csv_bytes(SALESFORCE_FIELDS, records)}, rows={SALESFORCE_NAME: len(records)},
        primary=SALESFORCE_NAME,
        manifest=upsert_job(SALESFORCE_NAME))


def erp_order_financials(rows: Sequence[Financials], *, account_id: str, partition: date) -> ExportFiles:
    """One document per sales order already exported: its money's lines by kind (no line for a kind with none)."""
    docs = []
    for r in sorted(rows, key=lambda r: r.order_id):
        lines = [{"kind": kind, "amount": format_amount(r.sum(columns), r.currency_code)}
                 for kind, columns in ORDER_LINES if r.sum(columns)]
        docs.append({"order_number": r.order_id, "currency": r.currency_code,
                     "net_proceeds": format_amount(r.values["net_proceeds"], r.currency_code),
                     "deferred": format_amount(r.values["deferred_amount"], r.currency_code),
                     "posted_at": iso_utc(r.last_posted_at), "lines": lines})
    data = "".join(json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n" for d in docs).encode("utf-8")
    return ExportFiles(system="erp_financials", account_id=account_id, partition=partition,
                       files={ERP_LINES_NAME: data},
                       rows={ERP_LINES_NAME: len(docs)}, primary=ERP_LINES_NAME)


def journal(settlement: dict, lines: Sequence[dict]) -> dict:
    """A settlement's journal: the deposit, then the money by kind (each fee kind, sales, refunds, reserves, the
    account's own fees), each with the orders it belongs to; money the mapping does not name is `unmapped`, or
    `unattributed_fees` when it names no order either."""
    currency = settlement["currency_code"]
    kinds: dict[str, dict] = {}
    for line in lines:
        kind = JOURNAL_KINDS.get(line["category"], line["category"])
        if kind == "unmapped" and not line["order_id"]:
            kind = "unattributed_fees"
        entry = kinds.setdefault(kind, {"amount": Decimal(0), "orders": set()})
        entry["amount"] += line["amount"] or Decimal(0)
        if line["order_id"]:
            entry["orders"].add(line["order_id"])
    return {
        "settlement_id": settlement["settlement_id"], "currency": currency,
        "period_start": iso_utc(settlement["settlement_start_at"]),
        "period_end": iso_utc(settlement["settlement_end_at"]),
        "deposit_date": settlement["deposit_date"].isoformat(),
        "deposit": format_amount(settlement["total_amount"], currency),
        "lines": [{"kind": kind, "amount": format_amount(entry["amount"], currency),
                   "order_ids": sorted(entry["orders"])} for kind, entry in sorted(kinds.items())],
    }


def settlement_journals(settlements: Sequence[tuple[dict, Sequence[dict]]], *, account_id: str,
                        deposit_date: date) -> ExportFiles:
    """The journals of an account's settlements deposited on one day, one file each, under one manifest."""
    files = {f"settlement_{s['settlement_id']}.json": (json.dumps(journal(s, lines), indent=1, sort_keys=True,
                                                                   ensure_ascii=False) + "\n").encode("utf-8")
             for s, lines in settlements}
    return ExportFiles(system="erp_settlements", account_id=account_id, partition=deposit_date, files=files,
                       rows={name: 1 for name in files}, primary=next(iter(files)),
                       manifest={"settlements": sorted(s["settlement_id"] for s, _ in settlements)})
