"""Checks dbt cannot express: raw-vs-staged completeness, order totals against their items, export mappings."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from amazon_orders_pipeline.resources import ExportResource

ORDERS = dg.AssetKey(["orders"])

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


# On `orders`, not on the staging view it counts: Dagster's blocking checks hold back the checked asset's direct
# dependents, and the exports hang off the marts.
@dg.asset_check(asset=ORDERS, blocking=True, description=(
    "Nothing vanished on the way to the marts: for every raw partition, the orders in the pages equal the "
    "staged order versions plus the quarantined records."))
def raw_orders_are_all_staged_or_quarantined(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        for schema, table in (("raw", "order_pages"), ("staging", "transform_windows")):
            if not _table_exists(conn, schema, table):
                return dg.AssetCheckResult(passed=False, metadata={"error": f"{schema}.{table} does not exist"})
        rows = conn.execute(COMPLETENESS_SQL).fetchall()
    gaps = [f"{a} {d}: raw {r}, staged {s}, quarantined {q}" for a, d, r, s, q in rows if r != s + q]
    return dg.AssetCheckResult(
        passed=not gaps,
        metadata={"partitions_checked": len(rows), "partitions_with_gaps": len(gaps),
                  "raw_orders": sum(r[2] for r in rows), "staged": sum(r[3] for r in rows),
                  "quarantined": sum(r[4] for r in rows), "gaps": "\n".join(gaps[:50]) or "none"})


@dg.asset_check(asset=ORDERS, blocking=True, description=(
    "For every order past Pending, order_total_amount equals the sum of its item proceeds within 0.01."))
def order_totals_match_their_items(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        failures = conn.execute(TOTALS_SQL).fetchall()
        checked = conn.execute(
            "select count(*) from main.orders where order_total_amount is not null").fetchone()[0]
    listed = [f"{a} {o}: total {t} {c} vs items {i}" for a, o, c, t, i in failures]
    return dg.AssetCheckResult(
        passed=not failures,
        metadata={"orders_checked": checked, "mismatches": len(failures),
                  "failures": "\n".join(listed[:50]) or "none"})


@dg.asset_check(asset=ORDERS, blocking=True, description=(
    "Every order status in the marts maps to a Salesforce picklist value and an ERP status (the export mappings "
    "file). The exports do not run until it passes."))
def order_statuses_are_mapped_for_exports(duckdb: DuckDBResource, exports: ExportResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        statuses = [s for (s,) in conn.execute("select distinct order_status from main.orders order by 1").fetchall()]
    unmapped = exports.mappings().unmapped_statuses(statuses)
    return dg.AssetCheckResult(
        passed=not unmapped,
        metadata={"statuses": ", ".join(statuses), "unmapped_statuses": sum(len(v) for v in unmapped.values()),
                  "unmapped": "; ".join(f"{system}: {', '.join(v)}" for system, v in unmapped.items()) or "none",
                  "mappings_file": exports.mappings_file})


CHECKS = [raw_orders_are_all_staged_or_quarantined, order_totals_match_their_items,
          order_statuses_are_mapped_for_exports]
