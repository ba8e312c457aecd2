"""The load step, `order_pages` + `order_records`: a partition's landed pages (or its order reports' records) loaded
into the raw tables in short transactions, each taking the warehouse's turn (`WarehouseResource.turn`) for just that
transaction."""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from amazon_orders_pipeline.assets.extract import extract_mode, run_accounts, run_days
from amazon_orders_pipeline.assets.keys import LANDED_PAGES_KEY, ORDER_BATCH_TAG, ORDER_PAGES_KEY, ORDER_RECORDS_KEY
from amazon_orders_pipeline.extract.increments import ORDERS, SWEEP, WINDOW
from amazon_orders_pipeline.extract.order_reports import REPORT_API_VERSION, ReportStore, window_records
from amazon_orders_pipeline.extract.plan import RECHECK, fetched_days
from amazon_orders_pipeline.resources import LandingResource, SpApiResource
from amazon_orders_pipeline.warehouse import NothingLanded, load_increments, replace_report_days
from amazon_orders_pipeline.warehouse_resource import WarehouseResource


def build_order_pages_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="amazon_sp_api__order_pages",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),  # as the extraction's, so a backfill loads in the same run
        # Not in the `duckdb` pool: a pool slot is claimed before the step's process starts and freed after it
        # ends, so the pool would also serialize seconds of process start-up around a write of a fraction of a
        # second, and a freed slot waits for the next claimant's backoff poll (up to 15 s). The step takes the
        # warehouse's turn (an exclusive file lock, handed over at once) for just the load instead.
        specs=[
            dg.AssetSpec(ORDER_PAGES_KEY, group_name="extract", kinds={"duckdb"}, deps=[LANDED_PAGES_KEY],
                         description=(
                "The partition's landed pages in raw.order_pages, one row per page: the request parameters, "
                "request id, fetch time, order count and the landed file that holds the page verbatim. A re-load "
                "replaces the partition.")),
            dg.AssetSpec(ORDER_RECORDS_KEY, group_name="extract", kinds={"duckdb"}, deps=[ORDER_PAGES_KEY],
                         description=(
                "The orders of raw.order_pages, one row per order record (raw.order_records), written in the same "
                "transaction as the pages. dbt reads these, so no query has to hold whole pages in memory.")),
        ],
    )
    def order_pages(context: dg.AssetExecutionContext, sp_api: SpApiResource, landing: LandingResource,
                    duckdb: WarehouseResource):
        by_account = run_days(context)
        accounts = run_accounts(sp_api, by_account)
        store = landing.store()
        mode = extract_mode(context)
        if duckdb.lake is None:
            Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
        loaded = Loaded()
        for account_id, days in by_account.items():
            if mode == ORDERS:
                # The days the getOrder increments went to (their orders' lastUpdatedTime), not the run's.
                days = fetched_days(store, context.run.tags[ORDER_BATCH_TAG], account_id)
            report_days = set()
            if mode in (WINDOW, RECHECK) and days:
                report_days = load_report_days(context, store, duckdb, account_id, days, accounts[account_id].pii,
                                               loaded)
            for day in days:
                if day not in report_days:
                    loaded.add_day(load_day(context, store, duckdb, account_id, day, may_be_empty=mode == SWEEP))
        yield dg.MaterializeResult(asset_key=ORDER_PAGES_KEY, metadata=loaded.metadata())
        yield dg.MaterializeResult(asset_key=ORDER_RECORDS_KEY,
                                   metadata={"records": loaded.orders + loaded.report_records})

    return order_pages


class Loaded:
    """What a load step wrote, over its accounts and days."""

    def __init__(self) -> None:
        self.pages = self.orders = self.report_records = self.size = self.without_items = 0
        self.api_versions: set[str] = set()
        self.attempts: list[str] = []

    def add_day(self, increments) -> None:
        for window, attempt_id in increments:
            self.pages += len(window.pages)
            self.orders += sum(p.order_count for p, _ in window.pages)
            self.size += sum(len(b) for _, b in window.pages)
            self.without_items += len(window.orders_without_items)
            self.attempts.append(attempt_id)
            if window.pages:
                self.api_versions.add(window.pages[0][0].api_version)

    def metadata(self) -> dict:
        return {"increments": len(self.attempts), "pages": self.pages, "orders": self.orders, "bytes": self.size,
                "orders_without_items": self.without_items, "report_records": self.report_records,
                "api_version": ", ".join(sorted(self.api_versions)) or "none",
                **({"attempt_id": self.attempts[0]} if len(self.attempts) == 1 else {})}


def load_report_days(context: dg.AssetExecutionContext, store, duckdb: WarehouseResource, account_id: str,
                     days: list[date], pii: bool, loaded: Loaded) -> set[date]:
    """The account's days that landed through order reports, loaded a window per transaction (one day's records in
    memory at a time). Returns those days."""
    reports = ReportStore(store, account_id)
    landed = reports.landed_range(days[0], days[-1])
    if not landed:
        return set()
    report_days = set(landed[1]) & set(days)
    params = {"source": "reports", "reports": [r.report_id for r in landed[0]]}
    for covered, read in window_records(reports, landed[0], sorted(report_days), pii=pii):
        def load(covered=covered, read=read) -> int:
            with duckdb.get_connection(log=context.log) as conn:
                return replace_report_days(conn, account_id, ((day, read(day)) for day in covered),
                                           attempt_id=context.run.run_id[:12], fetched_at=datetime.now(UTC),
                                           is_redacted=not pii, request_params=params)

        loaded.report_records += duckdb.retrying(load, f"the report load of {account_id}", log=context.log)
    loaded.api_versions.add(REPORT_API_VERSION)
    return report_days


def load_day(context: dg.AssetExecutionContext, store, duckdb: WarehouseResource, account_id: str, day: date,
             may_be_empty: bool = False):
    """One (day, account)'s landed increments not yet in DuckDB into the raw tables (warehouse.load_increments),
    each in one short transaction under the warehouse's turn. Yields (LandedWindow, attempt id) per increment.
    `may_be_empty`: a sweep round, whose extraction skips an account whose quota is spent; a day of it with
    nothing landed yet waits for the next round."""
    try:
        yield from load_increments(store, account_id, day, lambda: duckdb.get_connection(log=context.log),
                                   retry=lambda work, what: duckdb.retrying(work, what, log=context.log))
    except NothingLanded as e:
        if may_be_empty:
            context.log.info(f"{e}: skipped this round, the next one lands it")
            return
        raise dg.Failure(f"{e}; materialize {LANDED_PAGES_KEY.to_user_string()} for this partition first") from None
