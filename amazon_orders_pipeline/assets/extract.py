"""The extract step, `landed_order_pages`: every response page of a (day, account) change window, fetched under the
account's quota and landed in the landing area (or order reports, for a long backfill). It never opens DuckDB, so
extractions of different accounts overlap freely. What an account's run does is decided in extract/plan.py; this
module wires it to Dagster: partitions, run tags, resources, failures and metadata."""

import dagster as dg

from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.assets.keys import EXTRACT_MODE_TAG, LANDED_PAGES_KEY, ORDER_BATCH_TAG
from amazon_orders_pipeline.extract import PageStore
from amazon_orders_pipeline.extract.increments import ORDERS, WINDOW
from amazon_orders_pipeline.extract.order_reports import REPORTS_FROM_DAYS
from amazon_orders_pipeline.extract.plan import (
    EXTRACT_MODES,
    Access,
    ExtractFailed,
    SweepPolicy,
    day_metadata,
    days_by_account,
    extract_account,
    in_parallel,
    orders_metadata,
    read_orders,
    run_metadata,
)
from amazon_orders_pipeline.notifications.inbox import load_batch
from amazon_orders_pipeline.partitions import split_key
from amazon_orders_pipeline.resources import LandingResource, SpApiResource


def extract_mode(context) -> str:
    mode = context.run.tags.get(EXTRACT_MODE_TAG, WINDOW)
    if mode not in EXTRACT_MODES:
        raise dg.Failure(f"run tag {EXTRACT_MODE_TAG}={mode!r}: expected one of {', '.join(EXTRACT_MODES)}")
    if mode == ORDERS and not context.run.tags.get(ORDER_BATCH_TAG):
        raise dg.Failure(f"a run of extract mode {ORDERS} needs the run tag {ORDER_BATCH_TAG}")
    return mode


def run_days(context) -> dict[str, list]:
    """The run's partition keys (one, or a backfill's range) as each account's days."""
    return days_by_account([split_key(k) for k in context.partition_keys])


# A run's reads are one batch: a run made again for the same partitions (a backfill's retry, a re-execution)
# keeps what its earlier attempt finished instead of reading it again (the money's days, the returns' spans).
BATCH_TAGS = ("dagster/backfill", "dagster/root_run_id")


def run_batch(context) -> str:
    return next((context.run.tags[t] for t in BATCH_TAGS if context.run.tags.get(t)), context.run.run_id)


def run_accounts(sp_api: SpApiResource, account_ids) -> dict[str, Account]:
    accounts = sp_api.accounts()
    unknown = sorted(set(account_ids) - set(accounts))
    if unknown:
        raise dg.Failure(f"accounts {unknown} are not in the accounts file {sp_api.accounts_file}")
    return accounts


def build_landed_pages_asset(partitions_def: dg.MultiPartitionsDefinition,
                             sweeps: SweepPolicy) -> dg.AssetsDefinition:
    @dg.asset(
        key=LANDED_PAGES_KEY,
        partitions_def=partitions_def,
        group_name="extract",
        kinds={"python", "s3"},
        # A backfill is one run per account (or per day, when there are fewer days than accounts): a year of an
        # account is then 13 order reports in one run, not 365 runs.
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=(
            "Every response page whose orders were last updated in the partition's UTC day, landed verbatim in the "
            "landing area (PII fields removed unless the account has PII on): searchOrders pages for v2026 "
            "accounts; getOrders pages plus each order's getOrderItems pages for v0 accounts. A backfill of "
            f"{REPORTS_FROM_DAYS} or more days of an account whose history_source is reports lands order reports "
            "of 30-day windows instead. An interrupted extraction resumes from what has landed."),
    )
    def landed_order_pages(context: dg.AssetExecutionContext, sp_api: SpApiResource,
                           landing: LandingResource) -> dg.MaterializeResult:
        by_account = run_days(context)
        accounts = run_accounts(sp_api, by_account)
        store = landing.store()
        mode = extract_mode(context)

        def access(account: Account) -> Access:
            return Access(client=lambda: sp_api.client_for(account), reports=lambda: sp_api.reports_client(account),
                          store=store, sweeps=sweeps)

        if mode == ORDERS:
            batch_id = context.run.tags[ORDER_BATCH_TAG]
            try:
                batch = load_batch(store, batch_id)
            except KeyError as e:
                raise dg.Failure(str(e)) from None
            work = lambda a, _days: read_orders(accounts[a], access(accounts[a]), batch_id,  # noqa: E731
                                                batch.orders.get(a, {}))
        else:
            work = lambda a, days: extract_account(accounts[a], days, mode, access(accounts[a]),  # noqa: E731
                                                   context.log)
        try:
            runs = in_parallel(work, by_account)
        except ExtractFailed as e:
            raise dg.Failure(str(e)) from None
        if mode == ORDERS:
            return dg.MaterializeResult(metadata={"mode": mode, "batch": batch_id, **orders_metadata(runs)})
        results = [r for run in runs for r in run.results]
        if mode == WINDOW and len(results) == 1 and not any(run.reports for run in runs):
            result = results[0]
            return dg.MaterializeResult(metadata={**day_metadata(result), "landing": dg.MetadataValue.path(
                f"{store.describe()}/{PageStore(store, result.account_id, result.partition_date).prefix}")})
        return dg.MaterializeResult(metadata={"mode": mode, **run_metadata(runs, by_account),
                                              "landing": dg.MetadataValue.path(store.describe())})

    return landed_order_pages
