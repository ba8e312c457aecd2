"""The returns' exports: per report day and account, the ERP's return documents and the Salesforce return fields of
the orders returned that day (exporters/returns.py), delivered as the order exports are (atomic files, a manifest
last, a local folder or S3). A day is written again whole whenever its returns change (a late FBA row, an MFN
status, a refund paired), as a sales-order day is."""

import dagster as dg

from amazon_orders_pipeline.assets.exports import export_partitions, fetch
from amazon_orders_pipeline.assets.keys import ORDER_RETURNS, RETURN_EXPORT_KEY, RETURNS_GROUP
from amazon_orders_pipeline.exporters.delivery import ExportFiles
from amazon_orders_pipeline.exporters.returns import OrderReturnTotals, ReturnRow, erp_returns, salesforce_returns
from amazon_orders_pipeline.resources import ExportResource, SpApiResource
from amazon_orders_pipeline.warehouse_resource import DUCKDB_POOL, WarehouseResource

RETURNS_SQL = """
select order_id, sku, return_key, return_date, fulfilled_by, quantity, reason_code, disposition, refund_id,
       refunded_amount, refunded_at, currency_code, order_known
from main.order_returns where account_id = ? and return_date = ?
"""
# Each order the marts hold with a return that day, as its totals over all its returns.
ORDER_TOTALS_SQL = """
select order_id, cast(sum(quantity) as integer) as returned_quantity,
       coalesce(sum(refunded_amount), 0) as refunded_amount, any_value(currency_code) as currency_code,
       max(return_date) as last_return_date
from main.order_returns
where account_id = ? and order_known
  and order_id in (select order_id from main.order_returns where account_id = ? and return_date = ?)
group by order_id
"""


def build_return_export_asset(partitions_def: dg.DailyPartitionsDefinition,
                              automation_condition: dg.AutomationCondition | None = None) -> dg.AssetsDefinition:
    def erp_files(conn, mappings, account_id, day, _pii, _mcf) -> ExportFiles:
        return erp_returns(fetch(conn, RETURNS_SQL, [account_id, day], ReturnRow), mappings, account_id=account_id,
                           partition=day)

    def salesforce_files(conn, _mappings, account_id, day, _pii, _mcf) -> ExportFiles:
        return salesforce_returns(fetch(conn, ORDER_TOTALS_SQL, [account_id, account_id, day], OrderReturnTotals),
                                  account_id=account_id, partition=day)

    @dg.asset(key=RETURN_EXPORT_KEY, deps=[ORDER_RETURNS], partitions_def=partitions_def, group_name=RETURNS_GROUP,
              backfill_policy=dg.BackfillPolicy.single_run(), automation_condition=automation_condition,
              pool=DUCKDB_POOL, kinds={"python", "json", "salesforce"},
              description="Per report day and account: the ERP's return documents (JSON Lines; one per order's return "
                          "that day, a credit note by SKU with what the paired refunds paid back, a stock receipt by "
                          "SKU and disposition: sellable units back to stock) and a Salesforce upsert CSV of the "
                          "return fields of External_Order_Sync__c (returned units, refunded amount, last return "
                          "date) for the orders returned that day.")
    def order_returns_export(context: dg.AssetExecutionContext, duckdb: WarehouseResource, exports: ExportResource,
                             sp_api: SpApiResource) -> dg.MaterializeResult:
        _, erp = export_partitions(context, duckdb, exports, sp_api, erp_files)
        _, salesforce = export_partitions(context, duckdb, exports, sp_api, salesforce_files)
        return dg.MaterializeResult(metadata={"documents": erp["rows"], "salesforce_rows": salesforce["rows"],
                                              "files": erp["files"] + salesforce["files"],
                                              "location": erp["location"]})

    return order_returns_export
