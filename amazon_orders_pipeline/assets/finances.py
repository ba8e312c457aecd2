"""The money after the sale's raw stage: `landed_transaction_pages` reads each (posted day, account) partition's
transactions (Finances v2024-06-19) into the landing area, never opening DuckDB; `transaction_pages` and
`transaction_records` load the finished reads into the raw tables. The dbt models of the `finances` group follow.
What a read does is in finances/landing.py and finances/raw.py; this module wires it to Dagster."""

from datetime import UTC, datetime, time, timedelta

import dagster as dg

from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.assets.extract import run_accounts, run_batch, run_days
from amazon_orders_pipeline.assets.keys import (
    EXTRACT_MODE_TAG,
    FINANCES_GROUP,
    LANDED_TRANSACTIONS_KEY,
    ORDER_BATCH_TAG,
    SETTLEMENT_REPORTS_KEY,
    SETTLEMENT_ROWS_KEY,
    TRANSACTION_PAGES_KEY,
    TRANSACTION_RECORDS_KEY,
)
from amazon_orders_pipeline.extract.increments import ORDERS
from amazon_orders_pipeline.extract.plan import ExtractFailed, in_parallel
from amazon_orders_pipeline.finances import landing as finance_landing
from amazon_orders_pipeline.finances.landing import (
    LISTING_LAG,
    DayRead,
    TransactionsError,
    new_read_id,
    read_day,
    read_orders,
)
from amazon_orders_pipeline.finances.raw import load_day
from amazon_orders_pipeline.finances.settlements import SettlementError, fetch_settlements, load_settlements
from amazon_orders_pipeline.notifications.inbox import load_batch
from amazon_orders_pipeline.resources import LandingResource, SpApiResource
from amazon_orders_pipeline.warehouse_resource import WarehouseResource


def notified_orders(context, store) -> dict[str, list[str]] | None:
    """With the run tag of mode `orders` (the notifications sensor's TRANSACTION_UPDATE batch): the orders of each
    account to read by ORDER_ID. None: read the partitions' posted days whole."""
    if context.run.tags.get(EXTRACT_MODE_TAG) != ORDERS:
        return None
    batch_id = context.run.tags.get(ORDER_BATCH_TAG)
    if not batch_id:
        raise dg.Failure(f"a run of mode {ORDERS} needs the run tag {ORDER_BATCH_TAG}")
    return {account_id: sorted(orders) for account_id, orders in load_batch(store, batch_id).orders.items()}


def read_account(context, sp_api: SpApiResource, store, account: Account, days, batch: str,
                 orders: list[str] | None = None) -> list[DayRead]:
    """Each posted day of the account, whole, or (`orders`) the notified orders' transactions, landed with the
    day the notifications named."""
    client = sp_api.client_for(account)
    reads = []
    for day in days:
        if (done := finance_landing.finished_in_batch(store, account.id, day, batch)) is not None:
            reads.append(done)
            continue
        read_id = new_read_id(client.now(), context.run.run_id)
        if orders is not None:
            reads.append(read_orders(client, store, account.id, day, orders, read_id, batch=batch))
            continue
        reads.append(read_day(client, store, account.id, account.marketplace_ids, day, read_id, batch=batch))
        if datetime.combine(day + timedelta(days=1), time(), UTC) + LISTING_LAG > client.now():
            context.log.warning(f"{account.id} posted day {day} ended less than 48 hours ago: Amazon lists a "
                                "transaction about 48 hours after it posts, so a later re-read completes this day")
    return reads


def build_finance_assets(partitions_def: dg.MultiPartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=LANDED_TRANSACTIONS_KEY,
        partitions_def=partitions_def,
        group_name=FINANCES_GROUP,
        kinds={"python", "s3"},
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=(
            "Every listTransactions page (Finances v2024-06-19) of the partition's posted UTC day, one listing per "
            "marketplace of the account, landed verbatim as one read. Every read is kept: a later read of a day is a "
            "later version of its transactions (deferred money released, a late posting listed). An unfinished read "
            "is made again; a run made again keeps the days it finished. A run of the notifications sensor "
            "(TRANSACTION_UPDATE) reads the notified orders' transactions by ORDER_ID instead."),
    )
    def landed_transaction_pages(context: dg.AssetExecutionContext, sp_api: SpApiResource,
                                 landing: LandingResource) -> dg.MaterializeResult:
        store, batch = landing.store(), run_batch(context)
        notified = notified_orders(context, store)
        by_account = {a: days for a, days in run_days(context).items() if notified is None or notified.get(a)}
        accounts = run_accounts(sp_api, by_account)

        def work(account_id, days):
            try:
                return read_account(context, sp_api, store, accounts[account_id], days, batch,
                                    None if notified is None else notified[account_id])
            except TransactionsError as e:
                raise ExtractFailed(str(e)) from None

        try:
            reads = [r for run in in_parallel(work, by_account) for r in run]
        except ExtractFailed as e:
            raise dg.Failure(str(e)) from None
        return dg.MaterializeResult(metadata={
            "transactions": sum(r.transactions for r in reads), "pages": sum(r.pages for r in reads),
            "reads": len(reads), "restarts": sum(r.passes - 1 for r in reads)})

    @dg.multi_asset(
        name="amazon_sp_api__transaction_pages",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        specs=[
            dg.AssetSpec(TRANSACTION_PAGES_KEY, group_name=FINANCES_GROUP, kinds={"duckdb"},
                         deps=[LANDED_TRANSACTIONS_KEY],
                         description="The partition's finished transaction reads in raw.transaction_pages, one row "
                                     "per page: what was asked, when, its transaction count and the landed file "
                                     "that holds it verbatim; each read replaced as a whole when loaded again."),
            dg.AssetSpec(TRANSACTION_RECORDS_KEY, group_name=FINANCES_GROUP, kinds={"duckdb"},
                         deps=[TRANSACTION_PAGES_KEY],
                         description="The transactions of raw.transaction_pages, one row per transaction, written in "
                                     "the same transaction as the pages. dbt reads these."),
        ],
    )
    def transaction_pages(context: dg.AssetExecutionContext, landing: LandingResource, duckdb: WarehouseResource):
        store = landing.store()

        def transaction(work, what):
            def once():
                with duckdb.get_connection(log=context.log) as conn:
                    return work(conn)
            return duckdb.retrying(once, what, log=context.log)

        reads = transactions = 0
        for account_id, days in run_days(context).items():
            for day in days:
                r, t = load_day(store, account_id, day, transaction)
                reads, transactions = reads + r, transactions + t
        yield dg.MaterializeResult(asset_key=TRANSACTION_PAGES_KEY, metadata={"reads_loaded": reads})
        yield dg.MaterializeResult(asset_key=TRANSACTION_RECORDS_KEY, metadata={"transactions": transactions})

    return [landed_transaction_pages, transaction_pages]


@dg.multi_asset(
    name="amazon_sp_api__settlement_reports",
    specs=[
        dg.AssetSpec(SETTLEMENT_REPORTS_KEY, group_name=FINANCES_GROUP, kinds={"python", "duckdb"},
                     description="Every settlement report Amazon lists (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2, "
                                 "one per payout and currency, 90 days back: older ones cannot be had), each "
                                 "downloaded once, landed verbatim and listed in raw.settlement_reports."),
        dg.AssetSpec(SETTLEMENT_ROWS_KEY, group_name=FINANCES_GROUP, kinds={"duckdb"}, deps=[SETTLEMENT_REPORTS_KEY],
                     description="The settlement files' lines, one row per line by column name, the summary row "
                                 "first (raw.settlement_rows)."),
    ],
)
def settlement_reports(context: dg.AssetExecutionContext, sp_api: SpApiResource, landing: LandingResource,
                       duckdb: WarehouseResource):
    store, listed, landed, loaded = landing.store(), 0, 0, 0
    for account in sp_api.accounts().values():
        reports = sp_api.reports_client(account)
        try:
            fetched = fetch_settlements(reports, store, account.id, reports.client.now())

            def load(account_id=account.id):
                with duckdb.get_connection(log=context.log) as conn:
                    return load_settlements(conn, store, account_id)

            loaded += duckdb.retrying(load, f"the settlements of {account.id}", log=context.log)
        except SettlementError as e:
            raise dg.Failure(str(e)) from None
        listed, landed = listed + fetched.listed, landed + fetched.landed
    yield dg.MaterializeResult(asset_key=SETTLEMENT_REPORTS_KEY, metadata={"listed": listed, "downloaded": landed})
    yield dg.MaterializeResult(asset_key=SETTLEMENT_ROWS_KEY, metadata={"reports_loaded": loaded})
