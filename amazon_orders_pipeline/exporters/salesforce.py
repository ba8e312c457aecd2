"""Salesforce: the External Order Sync object (External_Order_Sync__c) as a Bulk API 2.0 upsert CSV."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from amazon_orders_pipeline.exporters.delivery import ExportFiles
from amazon_orders_pipeline.exporters.formats import csv_bytes, format_amount, iso_utc_millis
from amazon_orders_pipeline.exporters.mappings import ExportMappings
from amazon_orders_pipeline.exporters.rows import OrderRow

OBJECT = "External_Order_Sync__c"
EXTERNAL_ID_FIELD = "ExternalId__c"
FIELDS = ("ExternalId__c", "CustomerEmail__c", "MarketplaceId__c", "OrderDate__c", "OrderDateLocal__c",
          "OrderStatus__c", "OrderTotal__c", "IsBusiness__c", "SyncCompleted__c")
CSV_NAME = "external_order_sync.csv"


def upsert_job(file: str) -> dict:
    """The Bulk API 2.0 job a CSV of External_Order_Sync__c rows is for: POST these fields to /jobs/ingest, then PUT
    the file. An upsert sets only the columns the file has, so the order sync, its money and its returns are three
    files that never undo each other's fields."""
    return {"object": OBJECT, "operation": "upsert", "externalIdFieldName": EXTERNAL_ID_FIELD, "contentType": "CSV",
            "columnDelimiter": "COMMA", "lineEnding": "LF", "file": file}


def salesforce_record(order: OrderRow, mappings: ExportMappings, pii: bool) -> list[str]:
    return [
        order.order_id,
        order.pii(pii, "buyer_email") or "",
        order.marketplace_id or "",
        iso_utc_millis(order.purchased_at),
        # The day as Seller Central shows it (the marketplace's time zone), for a Date field.
        order.purchase_date_local.isoformat() if order.purchase_date_local else "",
        mappings.status("salesforce", order.order_status),
        # Salesforce currency fields take at most 2 decimal places; unknown (Pending) stays empty, never 0.
        format_amount(order.order_total_amount, order.currency_code, max_digits=2),
        "true" if order.is_business else "false",
        "false",
    ]


def salesforce_export(orders: Iterable[OrderRow], mappings: ExportMappings, *, account_id: str, partition: date,
                      pii: bool) -> ExportFiles:
    records = [salesforce_record(o, mappings, pii) for o in sorted(orders, key=lambda o: o.order_id)]
    return ExportFiles(
        system="salesforce", account_id=account_id, partition=partition,
        files={CSV_NAME: csv_bytes(FIELDS, records)}, rows={CSV_NAME: len(records)}, primary=CSV_NAME,
        manifest=upsert_job(CSV_NAME),
    )
