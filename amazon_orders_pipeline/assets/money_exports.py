"""The money's exports: per posted day and account, the orders whose money changed (a Salesforce upsert of their
financials, the ERP's fee and refund lines per sales order); and the ERP's journal of every settlement that ties
out. Delivered as the order exports are (atomic files, a manifest last, a local folder or S3)."""

from collections import defaultdict

import dagster as dg

from amazon_orders_pipeline.assets.exports import partition_days
from amazon_orders_pipeline.assets.keys import (
    FINANCES_GROUP,
    JOURNAL_EXPORT_KEY,
    MONEY_EXPORT_KEY,
    ORDER_FINANCIALS,
    SETTLEMENT_LINES,
    SETTLEMENTS,
)
from amazon_orders_pipeline.exporters.delivery import deliver
from amazon_orders_pipeline.exporters.money import (
    Financials,
    erp_order_financials,
    salesforce_financials,
    settlement_journals,
)
from amazon_orders_pipeline.resources import ExportResource, SpApiResource
from amazon_orders_pipeline.warehouse_resource import DUCKDB_POOL, WarehouseResource

CHANGED_MONEY_SQL = """
select * from main.order_financials where account_id = ? and last_changed_partition = ? order by order_id
"""
# Only settlements whose lines reach their total: one that does not tie out is not booked.
SETTLEMENTS_SQL = """
select * from main.settlements
where abs(difference) < case when currency_code in ('JPY', 'KRW', 'CLP', 'ISK', 'VND') then 1 else 0.01 end
order by account_id, settlement_id
"""
UNTIED_SQL = "select account_id, settlement_id, total_amount, lines_amount from main.settlements where not ({})"


def financials(conn, account_id: str, day) -> list[Financials]:
    cursor = conn.execute(CHANGED_MONEY_SQL, [account_id, day])
    names = [d[0] for d in cursor.description]
    return [Financials(r["order_id"], r["currency_code"], r, r["last_posted_at"])
            for r in (dict(zip(names, row, strict=True)) for row in cursor.fetchall())]


def build_money_export_assets(partitions_def: dg.DailyPartitionsDefinition,
                              automation_condition: dg.AutomationCondition | None = None
                              ) -> list[dg.AssetsDefinition]:
    @dg.asset(key=MONEY_EXPORT_KEY, deps=[ORDER_FINANCIALS], partitions_def=partitions_def, group_name=FINANCES_GROUP,
              backfill_policy=dg.BackfillPolicy.single_run(), automation_condition=automation_condition,
              pool=DUCKDB_POOL, kinds={"python", "salesforce"},
              description="Per posted day and account, the orders whose money changed: a Salesforce Bulk API upsert "
                          "CSV of their financials (ExternalId__c: the order id; net proceeds, fees, refunds, "
                          "deferred), and the ERP's fee and refund lines per sales order (JSON Lines).")
    def order_financials_export(context: dg.AssetExecutionContext, duckdb: WarehouseResource,
                                exports: ExportResource, sp_api: SpApiResource) -> dg.MaterializeResult:
        store, orders, files = exports.store(), 0, 0
        with duckdb.get_connection(read_only=True, log=context.log) as conn:
            for day in partition_days(context):
                for account_id in sp_api.accounts():
                    rows = financials(conn, account_id, day)
                    for export in (salesforce_financials(rows, account_id=account_id, partition=day),
                                   erp_order_financials(rows, account_id=account_id, partition=day)):
                        files += len(deliver(store, export))
                    orders += len(rows)
        return dg.MaterializeResult(metadata={"orders": orders, "files": files,
                                              "location": dg.MetadataValue.path(store.describe())})

    return [order_financials_export]


@dg.asset(key=JOURNAL_EXPORT_KEY, deps=[SETTLEMENTS, SETTLEMENT_LINES], group_name=FINANCES_GROUP, pool=DUCKDB_POOL,
          kinds={"python", "json"}, automation_condition=dg.AutomationCondition.eager(),
          check_specs=[dg.AssetCheckSpec("settlements_tie_out", asset=JOURNAL_EXPORT_KEY, description=(
              "Every settlement's lines reach its total within the minor unit; one that does not is not booked."))],
          description="The ERP's journal of every settlement within Amazon's 90 days that ties out: the deposit and "
                      "the money by kind (sales, each fee, refunds, reserves, the account's own fees), each with the "
                      "orders it belongs to; one file per settlement under its deposit date.")
def erp_settlement_journals(context: dg.AssetExecutionContext, duckdb: WarehouseResource, exports: ExportResource):
    store = exports.store()
    with duckdb.get_connection(read_only=True, log=context.log) as conn:
        cursor = conn.execute(SETTLEMENTS_SQL)
        names = [d[0] for d in cursor.description]
        settlements = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        cursor = conn.execute("select * from main.settlement_lines order by account_id, settlement_id, row_number")
        names = [d[0] for d in cursor.description]
        lines = defaultdict(list)
        for row in cursor.fetchall():
            line = dict(zip(names, row, strict=True))
            lines[(line["account_id"], line["settlement_id"])].append(line)
        where = SETTLEMENTS_SQL.split("where", 1)[1].split("order by")[0]
        untied = conn.execute(UNTIED_SQL.format(where)).fetchall()
    by_day = defaultdict(list)
    for s in settlements:
        by_day[(s["account_id"], s["deposit_date"])].append((s, lines[(s["account_id"], s["settlement_id"])]))
    for (account_id, day), group in sorted(by_day.items()):
        deliver(store, settlement_journals(group, account_id=account_id, deposit_date=day))
    yield dg.MaterializeResult(metadata={"settlements": len(settlements), "deposit_days": len(by_day),
                                         "location": dg.MetadataValue.path(store.describe())})
    yield dg.AssetCheckResult(check_name="settlements_tie_out", passed=not untied, metadata={
        "not_booked": len(untied), "listed": "\n".join(f"{a} {s}: total {t} vs lines {li}"
                                                       for a, s, t, li in untied[:50]) or "none"})
