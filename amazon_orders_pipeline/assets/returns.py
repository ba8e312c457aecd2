"""Returns' raw stage: `landed_return_reports` reads the two returns reports over the run's days for each account
into the landing area (returns/landing.py), never opening DuckDB; `return_reports` and `return_rows` load the
finished reads into the raw tables (returns/raw.py). The dbt models of the `returns` group follow.

A run's days (one partition, a backfill's range, the daily schedule's trailing window) are read per account as one
span: each report's windows are as long as Amazon allows (30 days FBA, 60 MFN), so a year's backfill of an account is
13 + 7 report requests, not 730."""

from datetime import date, datetime, timedelta

import dagster as dg

from amazon_orders_pipeline.assets.extract import run_accounts, run_batch, run_days
from amazon_orders_pipeline.assets.keys import (
    LANDED_RETURNS_KEY,
    RETURN_REPORTS_KEY,
    RETURN_ROWS_KEY,
    RETURNS_GROUP,
)
from amazon_orders_pipeline.extract.plan import ExtractFailed, in_parallel
from amazon_orders_pipeline.resources import LandingResource, SpApiResource
from amazon_orders_pipeline.returns.landing import REPORT_TYPES, ReturnsRead, batch_reads, land_returns
from amazon_orders_pipeline.returns.raw import load_read
from amazon_orders_pipeline.warehouse_resource import WarehouseResource

SPAN = "span="


def read_id(batch: str, days) -> str:
    """A read's id: the run's batch (a backfill's runs, a re-execution's, share it) and the span of days it reads,
    since one backfill may split its partitions over runs, each reading its own days."""
    return f"{batch}/{SPAN}{min(days):%Y%m%d}-{max(days):%Y%m%d}"


def span_days(read: str) -> set[date]:
    """The days a read of read_id's form covers."""
    first, last = (datetime.strptime(d, "%Y%m%d").date() for d in read.rsplit(SPAN, 1)[1].split("-"))
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def covering_reads(store, by_account: dict[str, list[date]], batch: str) -> list[ReturnsRead]:
    """The batch's finished reads of each account that reach into the run's days, which they must cover (a backfill
    may have read them in runs of other spans); each is loaded, replacing what it loaded before."""
    reads: list[ReturnsRead] = []
    for account_id, days in by_account.items():
        for report_type in REPORT_TYPES:
            done = batch_reads(store, account_id, report_type, batch)
            missing = sorted(set(days) - {d for r in done for d in span_days(r.read_id)})
            if missing:
                raise dg.Failure(f"{account_id} {report_type}: no finished read of {batch} covers {missing[0]}"
                                 f"{f' and {len(missing) - 1} more days' if len(missing) > 1 else ''}; "
                                 "materialize landed_return_reports for these partitions first")
            reads.extend(r for r in done if span_days(r.read_id) & set(days))
    return reads


def build_returns_assets(partitions_def: dg.MultiPartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=LANDED_RETURNS_KEY,
        partitions_def=partitions_def,
        group_name=RETURNS_GROUP,
        kinds={"python", "s3"},
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=(
            "Both returns reports over the partitions' days, landed verbatim as one read per account and report: "
            "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA (Amazon-fulfilled, a row per unit, by the day a fulfilment "
            "centre processed it) in windows of 30 days and GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE "
            "(merchant-fulfilled, a row per RMA, by request day) in windows of 60, Amazon's most. Every read is kept: "
            "a later read of a day finds the rows Amazon added since. A run made again carries on with its read."),
    )
    def landed_return_reports(context: dg.AssetExecutionContext, sp_api: SpApiResource,
                              landing: LandingResource) -> dg.MaterializeResult:
        store, batch = landing.store(), run_batch(context)
        by_account = run_days(context)
        accounts = run_accounts(sp_api, by_account)

        def work(account_id, days):
            account = accounts[account_id]
            reports = sp_api.reports_client(account)
            now = reports.client.now()  # the API's clock: the last window ends an hour before it
            # A failure names the account (in_parallel); the run fails with every account's.
            return [land_returns(reports, store, account_id=account_id, report_type=report_type,
                                 first=min(days), last=max(days), marketplace_ids=account.marketplace_ids,
                                 read_id=read_id(batch, days), now=now)
                    for report_type in REPORT_TYPES]

        try:
            reads = [r for run in in_parallel(work, by_account) for r in run]
        except ExtractFailed as e:
            raise dg.Failure(str(e)) from None
        windows = [w for r in reads for w in r.windows]
        return dg.MaterializeResult(metadata={
            "reads": len(reads), "windows": len(windows),
            "empty_windows": sum(w.status == "CANCELLED" for w in windows),
            "read_ids": ", ".join(sorted({r.read_id for r in reads}))})

    @dg.multi_asset(
        name="amazon_sp_api__return_reports",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        specs=[
            dg.AssetSpec(RETURN_REPORTS_KEY, group_name=RETURNS_GROUP, kinds={"duckdb"}, deps=[LANDED_RETURNS_KEY],
                         description="Each window of the partitions' finished returns reads in raw.return_reports: "
                                     "its report, outcome (DONE, or CANCELLED for a window without a return), "
                                     "columns and the landed file that holds it verbatim."),
            dg.AssetSpec(RETURN_ROWS_KEY, group_name=RETURNS_GROUP, kinds={"duckdb"}, deps=[RETURN_REPORTS_KEY],
                         description="The returns documents' lines, one row per line by column name "
                                     "(raw.return_rows), a malformed line kept with its reason; each window "
                                     "replaced as a whole when loaded again. dbt reads these."),
        ],
    )
    def return_reports(context: dg.AssetExecutionContext, landing: LandingResource, duckdb: WarehouseResource):
        store, batch = landing.store(), run_batch(context)
        reads = covering_reads(store, run_days(context), batch)

        def load(read):
            def once():
                with duckdb.get_connection(log=context.log) as conn:
                    return load_read(conn, store, read)
            return duckdb.retrying(once, f"the returns read {read.read_id} of {read.account_id}", log=context.log)

        rows = sum(load(read) for read in reads)
        yield dg.MaterializeResult(asset_key=RETURN_REPORTS_KEY,
                                   metadata={"windows": sum(len(r.windows) for r in reads)})
        yield dg.MaterializeResult(asset_key=RETURN_ROWS_KEY, metadata={"rows": rows})

    return [landed_return_reports, return_reports]
