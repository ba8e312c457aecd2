"""The export stage: loader-ready Salesforce and ERP files for the orders whose clean state changed in each day."""

from collections.abc import Callable
from datetime import date, timedelta

import dagster as dg

from amazon_orders_pipeline.assets.keys import (
    ERP_EXPORT_KEY,
    ORDER_ADDRESSES,
    ORDER_ITEMS,
    ORDER_TAX_REGISTRATIONS,
    ORDERS,
    SALESFORCE_EXPORT_KEY,
)
from amazon_orders_pipeline.exporters.delivery import ExportFiles, deliver
from amazon_orders_pipeline.exporters.erp import erp_export
from amazon_orders_pipeline.exporters.mappings import ExportMappings
from amazon_orders_pipeline.exporters.rows import LineRow, OrderRow
from amazon_orders_pipeline.exporters.salesforce import salesforce_export
from amazon_orders_pipeline.resources import ExportResource, SpApiResource
from amazon_orders_pipeline.warehouse_resource import DUCKDB_POOL, WarehouseResource

# The delta of day D: every order whose current state came from D's change window. A cancellation on D+3 moves
# the order into D+3's files, and a re-run of D no longer lists it. Multi-Channel Fulfillment orders (a web shop's
# own orders Amazon ships: sales channel NON_AMAZON) are left out unless EXPORT_MCF_ORDERS is set: the shop's
# system books those sales already, and they would be counted twice.
CHANGED_ORDERS_SQL = """
select o.account_id, o.order_id, o.marketplace_id, o.purchased_at, o.last_updated_at, o.order_status,
       o.fulfilled_by, o.order_total_amount, o.currency_code,
       a.city, a.state_or_region, a.country_code, a.recipient_name, a.address_line1, a.address_line2,
       a.address_line3, a.postal_code, a.phone, a.buyer_name, a.buyer_email,
       o.is_business, o.purchase_date_local, r.legal_name as buyer_legal_name,
       r.registration_type as buyer_tax_registration_type, r.registration_number as buyer_tax_registration_number
from main.orders as o
left join main.order_addresses as a using (account_id, order_id)
left join (select * from main.order_tax_registrations where entity_type = 'BUYER'
           qualify row_number() over (partition by account_id, order_id order by registration_number) = 1) as r
    using (account_id, order_id)
where o.account_id = ? and o.last_changed_partition = ? and (? or o.sales_channel is distinct from 'NON_AMAZON')
order by o.order_id
"""

CHANGED_LINES_SQL = """
select i.order_id, i.order_item_id, i.sku, i.quantity_ordered, i.unit_price_amount, i.line_total_amount,
       i.currency_code, i.tax_amount, i.tax_collected_by, i.tax_responsible_party
from main.order_items as i
join main.orders as o using (account_id, order_id)
where o.account_id = ? and o.last_changed_partition = ? and (? or o.sales_channel is distinct from 'NON_AMAZON')
order by i.order_id, i.order_item_id
"""


def fetch(conn, sql: str, params: list, row_type):
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [row_type(**dict(zip(names, values, strict=True))) for values in cursor.fetchall()]


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """Every day of the run's partition range (one day, or a whole backfill run as one)."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((end - first).days)]


Build = Callable[[object, ExportMappings, str, date, bool, bool], ExportFiles]


def export_partitions(context: dg.AssetExecutionContext, duckdb: WarehouseResource, exports: ExportResource,
                      sp_api: SpApiResource, build: Build) -> tuple[list[ExportFiles], dict]:
    """Build and deliver one export per (day, account) of the run; numeric metadata for the materialization."""
    mappings = exports.mappings()
    store = exports.store()
    accounts = sp_api.accounts()
    delivered: list[ExportFiles] = []
    with duckdb.get_connection(read_only=True, log=context.log) as conn:
        for day in partition_days(context):
            for account in accounts.values():
                export = build(conn, mappings, account.id, day, account.pii, exports.include_mcf_orders)
                deliver(store, export)
                delivered.append(export)
                context.log.info(f"{export.prefix()}: " + ", ".join(f"{n} ({r} rows)"
                                                                     for n, r in export.rows.items()))
    rows_by_file: dict[str, int] = {}
    for export in delivered:
        for name, count in export.rows.items():
            rows_by_file[name] = rows_by_file.get(name, 0) + count
    return delivered, {
        "rows": sum(e.rows[e.primary] for e in delivered),
        **{f"rows_{name.replace('.', '_')}": count for name, count in sorted(rows_by_file.items())},
        "files": sum(len(e.files) + 1 for e in delivered),
        "bytes": sum(len(data) for e in delivered for data in e.files.values()),
        "days": len({e.partition for e in delivered}),
        "accounts": len(accounts),
        "location": dg.MetadataValue.path(store.describe()),
    }


def build_export_assets(partitions_def: dg.DailyPartitionsDefinition,
                        automation_condition: dg.AutomationCondition | None = None) -> list[dg.AssetsDefinition]:
    common = {"partitions_def": partitions_def, "group_name": "exports",
              "backfill_policy": dg.BackfillPolicy.single_run(), "automation_condition": automation_condition,
              "pool": DUCKDB_POOL}

    def salesforce_files(conn, mappings, account_id, day, pii, mcf) -> ExportFiles:
        orders = fetch(conn, CHANGED_ORDERS_SQL, [account_id, day, mcf], OrderRow)
        return salesforce_export(orders, mappings, account_id=account_id, partition=day, pii=pii)

    def erp_files(conn, mappings, account_id, day, pii, mcf) -> ExportFiles:
        orders = fetch(conn, CHANGED_ORDERS_SQL, [account_id, day, mcf], OrderRow)
        lines: dict[str, list[LineRow]] = {}
        for line in fetch(conn, CHANGED_LINES_SQL, [account_id, day, mcf], LineRow):
            lines.setdefault(line.order_id, []).append(line)
        return erp_export(orders, lines, mappings, account_id=account_id, partition=day, pii=pii)

    @dg.asset(key=SALESFORCE_EXPORT_KEY, deps=[ORDERS, ORDER_ADDRESSES, ORDER_TAX_REGISTRATIONS],
              kinds={"python", "salesforce"},
              description="A Bulk API 2.0 upsert CSV for External_Order_Sync__c (key ExternalId__c) per account and "
                          "day, with the orders whose state changed that day, and a manifest naming the job.",
              **common)
    def salesforce_order_export(context: dg.AssetExecutionContext, duckdb: WarehouseResource, exports: ExportResource,
                                sp_api: SpApiResource) -> dg.MaterializeResult:
        _, metadata = export_partitions(context, duckdb, exports, sp_api, salesforce_files)
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(key=ERP_EXPORT_KEY, deps=[ORDERS, ORDER_ITEMS, ORDER_ADDRESSES, ORDER_TAX_REGISTRATIONS],
              kinds={"python", "json"},
              description="ERP sales-order documents (JSON Lines, header plus lines by SKU) and a flat CSV of the "
                          "lines per account and day, for the orders whose state changed that day.",
              check_specs=[dg.AssetCheckSpec(
                  "skus_are_mapped", asset=ERP_EXPORT_KEY,
                  description="Every exported line's SKU has an ERP product code. Unmapped lines are still exported "
                              "with an empty product_code; this warns and counts them.")],
              **common)
    def erp_sales_order_export(context: dg.AssetExecutionContext, duckdb: WarehouseResource, exports: ExportResource,
                               sp_api: SpApiResource):
        delivered, metadata = export_partitions(context, duckdb, exports, sp_api, erp_files)
        yield dg.MaterializeResult(metadata=metadata)
        unmapped: dict[str, int] = {}
        for export in delivered:
            for sku, count in export.manifest["unmapped_skus"].items():
                unmapped[sku] = unmapped.get(sku, 0) + count
        yield dg.AssetCheckResult(
            check_name="skus_are_mapped", passed=not unmapped, severity=dg.AssetCheckSeverity.WARN,
            metadata={"unmapped_skus": len(unmapped), "unmapped_lines": sum(unmapped.values()),
                      "skus": "\n".join(f"{sku or '(no SKU)'}: {n} lines" for sku, n in sorted(unmapped.items()))
                      or "none"})

    return [salesforce_order_export, erp_sales_order_export]
