"""Checks dbt cannot express: raw-vs-staged completeness, order totals against their items, export mappings."""

import dagster as dg

from amazon_orders_pipeline.assets.keys import ORDERS
from amazon_orders_pipeline.chosen_warnings import chosen_features
from amazon_orders_pipeline.resources import ExportResource
from amazon_orders_pipeline.warehouse_resource import DUCKDB_POOL, WarehouseResource

# Per raw partition already seen by a dbt run (its window covered the partition after the pages were fetched):
# order records in the pages vs typed versions in staging + records in quarantine.
COMPLETENESS_SQL = """
with raw_partitions as (
    select account_id, partition_date, sum(order_count) as raw_orders, max(fetched_at) as fetched_at
    from raw.order_pages
    group by account_id, partition_date
), raw as (
    select account_id, partition_date, raw_orders
    from raw_partitions as r
    where exists (
        select 1 from staging.transform_windows as w
        where r.partition_date >= w.start_date and r.partition_date < w.end_date
          and w.run_started_at >= r.fetched_at)
), staged as (
    select account_id, partition_date, count(*) as staged from staging.stg_amazon_sp_api__orders group by all
), quarantined as (
    select account_id, partition_date, count(*) as quarantined from staging.quarantine group by all
)
select raw.account_id, cast(raw.partition_date as varchar), raw_orders,
       coalesce(staged, 0) as staged, coalesce(quarantined, 0) as quarantined
from raw
left join staged using (account_id, partition_date)
left join quarantined using (account_id, partition_date)
order by all
"""

# Every order with money: its grand total equals the sum of its lines' proceeds
# (items + shipping + tax - discounts, which is how Amazon defines proceedsTotal) within 0.01.
TOTALS_SQL = """
select o.account_id, o.order_id, o.currency_code, o.order_total_amount, sum(i.item_proceeds_amount) as items_total
from main.orders as o
join main.order_items as i using (account_id, order_id)
where o.order_status not in ('PENDING', 'PENDING_AVAILABILITY') and o.order_total_amount is not null
group by all
having abs(o.order_total_amount - coalesce(sum(i.item_proceeds_amount), 0)) > 0.01
order by o.account_id, o.order_id
"""


def _table_exists(conn, schema: str, table: str) -> bool:
    return bool(conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table]).fetchone()[0])


COMPLETENESS = "raw_orders_are_all_staged_or_quarantined"
TOTALS = "order_totals_match_their_items"
STATUSES = "order_statuses_are_mapped_for_exports"


def completeness(conn) -> dg.AssetCheckResult:
    for schema, table in (("raw", "order_pages"), ("staging", "transform_windows")):
        if not _table_exists(conn, schema, table):
            return dg.AssetCheckResult(check_name=COMPLETENESS, passed=False,
                                       metadata={"error": f"{schema}.{table} does not exist"})
    rows = conn.execute(COMPLETENESS_SQL).fetchall()
    gaps = [f"{a} {d}: raw {r}, staged {s}, quarantined {q}" for a, d, r, s, q in rows if r != s + q]
    return dg.AssetCheckResult(
        check_name=COMPLETENESS, passed=not gaps,
        metadata={"partitions_checked": len(rows), "partitions_with_gaps": len(gaps),
                  "raw_orders": sum(r[2] for r in rows), "staged": sum(r[3] for r in rows),
                  "quarantined": sum(r[4] for r in rows), "gaps": "\n".join(gaps[:50]) or "none"})


def totals(conn) -> dg.AssetCheckResult:
    failures = conn.execute(TOTALS_SQL).fetchall()
    checked = conn.execute("select count(*) from main.orders where order_total_amount is not null").fetchone()[0]
    listed = [f"{a} {o}: total {t} {c} vs items {i}" for a, o, c, t, i in failures]
    return dg.AssetCheckResult(
        check_name=TOTALS, passed=not failures,
        metadata={"orders_checked": checked, "mismatches": len(failures),
                  "failures": "\n".join(listed[:50]) or "none"})


def statuses(conn, exports: ExportResource) -> dg.AssetCheckResult:
    found = [s for (s,) in conn.execute("select distinct order_status from main.orders order by 1").fetchall()]
    unmapped = exports.mappings().unmapped_statuses(found)
    return dg.AssetCheckResult(
        check_name=STATUSES, passed=not unmapped,
        metadata={"statuses": ", ".join(found), "unmapped_statuses": sum(len(v) for v in unmapped.values()),
                  "unmapped": "; ".join(f"{system}: {', '.join(v)}" for system, v in unmapped.items()) or "none",
                  "mappings_file": exports.mappings_file})


# All on `orders`, not on the staging view the first one counts: Dagster's blocking checks hold back the checked
# asset's direct dependents, and the exports hang off the marts. One step for the three, so a run opens the file
# (and waits for the duckdb pool) once.
@dg.multi_asset_check(
    name="order_checks",
    pool=DUCKDB_POOL,
    can_subset=True,
    specs=[
        dg.AssetCheckSpec(COMPLETENESS, asset=ORDERS, blocking=True, description=(
            "Nothing vanished on the way to the marts: for every raw partition, the orders in the pages equal the "
            "staged order versions plus the quarantined records.")),
        dg.AssetCheckSpec(TOTALS, asset=ORDERS, blocking=True, description=(
            "For every order past Pending, order_total_amount equals the sum of its item proceeds within 0.01.")),
        dg.AssetCheckSpec(STATUSES, asset=ORDERS, blocking=True, description=(
            "Every order status in the marts maps to a Salesforce picklist value and an ERP status (the export "
            "mappings file). The exports do not run until it passes.")),
    ],
)
def order_checks(context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource, exports: ExportResource):
    run = {
        COMPLETENESS: completeness,
        TOTALS: totals,
        STATUSES: lambda conn: statuses(conn, exports),
    }
    selected = {key.name for key in context.selected_asset_check_keys}
    with duckdb.get_connection(read_only=True, log=context.log) as conn:
        for name, check in run.items():
            if name in selected:
                yield check(conn)


CHECKS = [order_checks]


def build_freshness_checks(keys: list[dg.AssetKey], deadline_cron: str) -> list[dg.AssetChecksDefinition]:
    """Per daily partition: the partition that is the newest at the deadline (UTC cron) is materialized by then. As
    today is a partition, that is the day of the deadline, which the intraday sweeps materialize from 00:15."""
    with chosen_features():
        return list(dg.build_time_partition_freshness_checks(assets=keys, deadline_cron=deadline_cron, timezone="UTC"))
