"""The returns' export: per report day and account, the ERP's return documents (exporters/returns.py), delivered as
the order exports are (atomic files, a manifest last, a local folder or S3). A day is written again whole whenever
its returns change (a late FBA row, an MFN status), as a sales-order day is."""

import dagster as dg

from amazon_orders_pipeline.assets.exports import export_partitions, fetch
from amazon_orders_pipeline.assets.keys import ORDER_RETURNS, RETURN_EXPORT_KEY, RETURNS_GROUP
from amazon_orders_pipeline.exporters.delivery import ExportFiles
from amazon_orders_pipeline.exporters.returns import ReturnRow, erp_returns
from amazon_orders_pipeline.resources import ExportResource, SpApiResource
from amazon_orders_pipeline.warehouse_resource import DUCKDB_POOL, WarehouseResource

RETURNS_SQL = """
select order_id, sku, return_key, return_date, fulfilled_by, quantity, reason_code, disposition, refund_id,
       refunded_amount, refunded_at, currency_code, order_known
from main.order_returns where account_id = ? and return_date = ?
"""


def build_return_export_asset(partitions_def: dg.DailyPartitionsDefinition,
                              automation_condition: dg.AutomationCondition | None = None) -> dg.AssetsDefinition:
    def files(conn, mappings, account_id, day, _pii, _mcf) -> ExportFiles:
        return erp_returns(fetch(conn, RETURNS_SQL, [account_id, day], ReturnRow), mappings, account_id=account_id,
                           partition=day)

    @dg.asset(key=RETURN_EXPORT_KEY, deps=[ORDER_RETURNS], partitions_def=partitions_def, group_name=RETURNS_GROUP,
              backfill_policy=dg.BackfillPolicy.single_run(), automation_condition=automation_condition,
              pool=DUCKDB_POOL, kinds={"python", "json"},
              description="Per report day and account, the ERP's return documents (JSON Lines): one per order's "
                          "return that day, a credit note by SKU (units, what the paired refunds paid back) and a "
                          "stock receipt by SKU and disposition (sellable units back to stock).")
    def erp_return_export(context: dg.AssetExecutionContext, duckdb: WarehouseResource, exports: ExportResource,
                          sp_api: SpApiResource) -> dg.MaterializeResult:
        _, metadata = export_partitions(context, duckdb, exports, sp_api, files)
        return dg.MaterializeResult(metadata=metadata)

    return erp_return_export
