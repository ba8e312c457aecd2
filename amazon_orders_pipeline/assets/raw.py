"""The extract stage: every searchOrders page of a day x account change window, and its orders one row each."""


from datetime import timedelta
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from amazon_orders_pipeline.extract import ExtractError, PageStore, extract_window, mark_loaded
from amazon_orders_pipeline.partitions import split_key
from amazon_orders_pipeline.resources import LandingResource, SpApiResource
from amazon_orders_pipeline.sp_api.auth import AuthError
from amazon_orders_pipeline.sp_api.client import SpApiError
from amazon_orders_pipeline.warehouse import page_row, replace_partition

ORDER_PAGES_KEY = dg.AssetKey(["amazon_sp_api", "order_pages"])
ORDER_RECORDS_KEY = dg.AssetKey(["amazon_sp_api", "order_records"])
RAW_KEYS = (ORDER_PAGES_KEY, ORDER_RECORDS_KEY)


def build_order_pages_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="amazon_sp_api__order_pages",
        partitions_def=partitions_def,
        specs=[
            dg.AssetSpec(ORDER_PAGES_KEY, group_name="extract", kinds={"python", "duckdb"}, description=(
                "Every searchOrders response page whose orders were last updated in the partition's UTC day, "
                "landed verbatim (PII fields removed unless the account has PII on), then loaded into "
                "raw.order_pages.")),
            dg.AssetSpec(ORDER_RECORDS_KEY, group_name="extract", kinds={"duckdb"}, deps=[ORDER_PAGES_KEY],
                         description=(
                "The orders of raw.order_pages, one row per order record (raw.order_records), written in the same "
                "transaction as the pages. dbt reads these, so no query has to hold whole pages in memory.")),
        ],
    )
    def order_pages(context: dg.AssetExecutionContext, sp_api: SpApiResource, landing: LandingResource,
                    duckdb: DuckDBResource):
        day, account_id = split_key(context.partition_key)
        account = sp_api.accounts().get(account_id)
        if account is None:
            raise dg.Failure(f"account {account_id!r} is not in the accounts file {sp_api.accounts_file}")
        client = sp_api.client_for(account)
        store = landing.store()

        def progress(page, orders_so_far):
            context.log.info(f"{account_id} {day}: landed page {page.number} ({orders_so_far} orders so far)")

        try:
            result = extract_window(client, store, account_id=account_id, day=day,
                                    marketplace_ids=account.marketplace_ids, pii=account.pii, on_page=progress)
        except (ExtractError, SpApiError, AuthError) as e:
            raise dg.Failure(f"extracting account {account_id}, day {day} failed: {e}") from None
        if result.restarted:
            context.log.warning(f"{account_id} {day}: the stored pagination token was refused; fetched afresh")
        if result.resumed_pages:
            context.log.info(f"{account_id} {day}: resumed after {result.resumed_pages} landed pages")

        # API calls are over: only now open DuckDB, and hold it for one short transaction.
        pages = PageStore(store, account_id, day)
        rows = [page_row(account_id, day, result.attempt_id, p, pages.read_body(p)) for p in result.pages]
        Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
        with duckdb.get_connection() as conn:
            replace_partition(conn, account_id, day, rows)
        mark_loaded(store, account_id, day, result.attempt_id)

        stats = result.stats
        yield dg.MaterializeResult(asset_key=ORDER_PAGES_KEY, metadata={
            "pages": len(result.pages),
            "orders": result.orders,
            "calls": stats["calls"],
            "throttled_calls": stats["throttled_calls"],
            "retries": stats["retries"],
            "quota_wait_s": stats["quota_wait_s"],
            "resumed_pages": result.resumed_pages,
            "restarted_window": result.restarted,
            "window_start": result.window.start.isoformat(),
            "window_end": result.window.end.isoformat(),
            "window_complete": result.window.end - result.window.start == timedelta(days=1),
            "landing": dg.MetadataValue.path(f"{store.describe()}/{pages.prefix}"),
        })
        yield dg.MaterializeResult(asset_key=ORDER_RECORDS_KEY, metadata={"records": result.orders})

    return order_pages
