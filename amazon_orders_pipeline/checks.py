"""Checks dbt cannot express: raw-vs-staged completeness, order totals against their items, export mappings."""

import dagster as dg

from amazon_orders_pipeline.assets.keys import ORDER_FINANCIALS, ORDER_RETURNS, ORDERS
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


# Each shipped order's product charges in the money against its lines' item totals, for orders whose every
# shipment is in the warehouse (a shipped order without money yet is not judged: its money may not be listed).
PRODUCT_CHARGES_SQL = """
with lines as (
    select account_id, order_id, currency_code, sum(line_total_amount) as items_total
    from main.order_items
    group by all
)
select f.account_id, f.order_id, f.currency_code, f.product_charges, l.items_total
from main.order_financials as f
join main.orders as o on o.account_id = f.account_id and o.order_id = f.order_id
join lines as l on l.account_id = f.account_id and l.order_id = f.order_id and l.currency_code = f.currency_code
where o.order_status = 'SHIPPED' and f.transaction_count > f.refund_count
  and f.product_charges <> l.items_total
order by all
"""
# Amazon's names the mapping files do not know, with their money: in the transactions and in the settlements.
UNMAPPED_SQL = """
select 'transaction ' || transaction_type || ': ' || breakdown_path, count(*), sum(amount)
from staging.stg_amazon_sp_api__transaction_amounts where category = 'unmapped' group by all
union all
select 'settlement ' || concat_ws(' / ', transaction_type, amount_type, amount_description), count(*), sum(amount)
from main.settlement_lines where category = 'unmapped' group by all
order by 1
"""
PRODUCT_CHARGES = "product_charges_match_the_order_lines"
UNMAPPED = "amazon_money_names_are_mapped"


def product_charges(conn) -> dg.AssetCheckResult:
    if not all(_table_exists(conn, "main", t) for t in ("orders", "order_items")):
        return dg.AssetCheckResult(check_name=PRODUCT_CHARGES, passed=True, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"orders_checked": 0, "note": "no order marts to compare with yet"})
    rows = conn.execute(PRODUCT_CHARGES_SQL).fetchall()
    checked = conn.execute("select count(*) from main.order_financials").fetchone()[0]
    return dg.AssetCheckResult(
        check_name=PRODUCT_CHARGES, passed=not rows, severity=dg.AssetCheckSeverity.WARN,
        metadata={"orders_checked": checked, "differences": len(rows), "listed": "\n".join(
            f"{a} {o}: charges {p} {c} vs lines {i}" for a, o, c, p, i in rows[:50]) or "none"})


def unmapped(conn) -> dg.AssetCheckResult:
    rows = conn.execute(UNMAPPED_SQL).fetchall()
    return dg.AssetCheckResult(
        check_name=UNMAPPED, passed=not rows, severity=dg.AssetCheckSeverity.WARN,
        metadata={"unmapped_names": len(rows), "listed": "\n".join(
            f"{name}: {count} amounts, {total}" for name, count, total in rows[:50]) or "none"})


@dg.multi_asset_check(
    name="money_checks",
    pool=DUCKDB_POOL,
    can_subset=True,
    specs=[
        dg.AssetCheckSpec(PRODUCT_CHARGES, asset=ORDER_FINANCIALS, description=(
            "Each shipped order's product charges in order_financials equal its lines' item totals in order_items "
            "(a warning, the differences listed).")),
        dg.AssetCheckSpec(UNMAPPED, asset=ORDER_FINANCIALS, description=(
            "Every transaction type and breakdown path, and every settlement transaction-type / amount-type / "
            "amount-description, is in the mapping files: the unmapped ones are listed with their money (a "
            "warning; the money is kept in the `unmapped` bucket).")),
    ],
)
def money_checks(context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource):
    selected = {key.name for key in context.selected_asset_check_keys}
    with duckdb.get_connection(read_only=True, log=context.log) as conn:
        for name, check in ((PRODUCT_CHARGES, product_charges), (UNMAPPED, unmapped)):
            if name in selected:
                yield check(conn)


# Returns (docs/returns.md): each a warning that lists its rows.
# A return whose order the marts do not hold (older than the history loaded, or not loaded yet).
UNKNOWN_ORDERS_SQL = """
select account_id, order_id, count(*), min(return_date)
from main.order_returns where not order_known
group by all order by all
"""
# Returns without a refund and refunds without a return (same order and SKU, within the tolerance): both happen on
# Amazon (a refused or not yet refunded return; a returnless refund), so they are listed, not failed.
UNPAIRED_SQL = """
select 'return without a refund', account_id, order_id, sku, return_key, cast(return_date as varchar)
from main.order_returns where refund_transaction_id is null
union all
select 'refund without a return', r.account_id, r.order_id, r.sku, r.transaction_id,
       cast(cast(r.refunded_at at time zone 'UTC' as date) as varchar)
from staging.stg_amazon_sp_api__refund_items as r
where not exists (select 1 from main.order_returns as o
                  where o.account_id = r.account_id and o.refund_transaction_id = r.transaction_id
                    and o.sku = r.sku)
order by all
"""
# Reason codes the seed does not name and dispositions Amazon does not document, with their rows.
UNKNOWN_CODES_SQL = """
select 'reason', reason_code, count(*) from main.order_returns where not reason_known group by all
union all
select 'disposition', disposition, count(*) from main.order_returns where not disposition_known group by all
order by all
"""
UNKNOWN_ORDERS = "returns_name_known_orders"
UNPAIRED = "returns_pair_with_refunds"
UNKNOWN_CODES = "return_codes_are_known"


def listing(name: str, rows: list[tuple], counted: str, line) -> dg.AssetCheckResult:
    """A warning that lists its rows (the first 50) and counts them."""
    return dg.AssetCheckResult(check_name=name, passed=not rows, severity=dg.AssetCheckSeverity.WARN,
                               metadata={counted: len(rows), "listed": "\n".join(map(line, rows[:50])) or "none"})


@dg.multi_asset_check(
    name="returns_checks",
    pool=DUCKDB_POOL,
    can_subset=True,
    specs=[
        dg.AssetCheckSpec(UNKNOWN_ORDERS, asset=ORDER_RETURNS, description=(
            "Every return names an order the marts hold: the others (older than the history loaded, or not loaded "
            "yet) are kept in order_returns with order_known false and listed here (a warning).")),
        dg.AssetCheckSpec(UNPAIRED, asset=ORDER_RETURNS, description=(
            "Every return pairs with a refund of its order and SKU and every refund with a return: the returns "
            "without a refund and the refunds without a return are listed (a warning: Amazon has both).")),
        dg.AssetCheckSpec(UNKNOWN_CODES, asset=ORDER_RETURNS, description=(
            "Every reason code is in seeds/returns/return_reasons.csv and every disposition is one Amazon documents: "
            "the others are listed with their row counts (a warning; the rows are kept).")),
    ],
)
def returns_checks(context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource):
    selected = {key.name for key in context.selected_asset_check_keys}
    with duckdb.get_connection(read_only=True, log=context.log) as conn:
        if UNKNOWN_ORDERS in selected:
            yield listing(UNKNOWN_ORDERS, conn.execute(UNKNOWN_ORDERS_SQL).fetchall(), "returns_of_unknown_orders",
                          lambda r: f"{r[0]} {r[1]}: {r[2]} returns from {r[3]}")
        if UNPAIRED in selected:
            yield listing(UNPAIRED, conn.execute(UNPAIRED_SQL).fetchall(), "unpaired",
                          lambda r: f"{r[0]}: {r[1]} {r[2]} {r[3]} {r[4]} {r[5]}")
        if UNKNOWN_CODES in selected:
            yield listing(UNKNOWN_CODES, conn.execute(UNKNOWN_CODES_SQL).fetchall(), "unknown_codes",
                          lambda r: f"{r[0]} {r[1]}: {r[2]} rows")


CHECKS = [order_checks, money_checks, returns_checks]


def build_freshness_checks(keys: list[dg.AssetKey], deadline_cron: str) -> list[dg.AssetChecksDefinition]:
    """Per daily partition: the partition that is the newest at the deadline (UTC cron) is materialized by then. As
    today is a partition, that is the day of the deadline, which the intraday sweeps materialize from 00:15."""
    with chosen_features():
        return list(dg.build_time_partition_freshness_checks(assets=keys, deadline_cron=deadline_cron, timezone="UTC"))
