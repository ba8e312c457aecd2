"""The extract stage, in two steps per (day, account) partition:

1. `landed_order_pages`: every searchOrders page of the change window, fetched under the account's quota and landed
   in the landing area. It never opens DuckDB, so extractions of different accounts overlap freely.
2. `order_pages` + `order_records`: the landed pages loaded into DuckDB in one short transaction, taking the
   warehouse's turn (see `WarehouseResource.turn`) for just that transaction.
"""

from datetime import timedelta
from pathlib import Path

import dagster as dg

from amazon_orders_pipeline.extract import (
    ExtractError,
    PageStore,
    Progress,
    extract_window,
    mark_loaded,
)
from amazon_orders_pipeline.partitions import split_key
from amazon_orders_pipeline.resources import LandingResource, SpApiResource
from amazon_orders_pipeline.sp_api.auth import AuthError
from amazon_orders_pipeline.sp_api.client import SpApiError
from amazon_orders_pipeline.warehouse import load_landed
from amazon_orders_pipeline.warehouse_resource import WarehouseResource

LANDED_PAGES_KEY = dg.AssetKey(["amazon_sp_api", "landed_order_pages"])
ORDER_PAGES_KEY = dg.AssetKey(["amazon_sp_api", "order_pages"])
ORDER_RECORDS_KEY = dg.AssetKey(["amazon_sp_api", "order_records"])
RAW_KEYS = (LANDED_PAGES_KEY, ORDER_PAGES_KEY, ORDER_RECORDS_KEY)

# Landing-area states that hold a complete set of pages for the load step.
LOADABLE = ("fetched", "loaded")


def build_landed_pages_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=LANDED_PAGES_KEY,
        partitions_def=partitions_def,
        group_name="extract",
        kinds={"python", "s3"},
        description=(
            "Every response page whose orders were last updated in the partition's UTC day, landed verbatim in the "
            "landing area (PII fields removed unless the account has PII on): searchOrders pages for v2026 "
            "accounts; getOrders pages plus each order's getOrderItems pages for v0 accounts. An interrupted "
            "extraction resumes from the pages already landed."),
    )
    def landed_order_pages(context: dg.AssetExecutionContext, sp_api: SpApiResource,
                           landing: LandingResource) -> dg.MaterializeResult:
        day, account_id = split_key(context.partition_key)
        account = sp_api.accounts().get(account_id)
        if account is None:
            raise dg.Failure(f"account {account_id!r} is not in the accounts file {sp_api.accounts_file}")
        store = landing.store()

        def progress(p: Progress) -> None:
            context.log.info(f"{account_id} {day}: landed page {p.page.number}; {p.describe()}")

        try:
            result = extract_window(sp_api.client_for(account), store, account_id=account_id, day=day,
                                    marketplace_ids=account.marketplace_ids, pii=account.pii, on_page=progress,
                                    api_version=account.api_version)
        except (ExtractError, SpApiError, AuthError) as e:
            raise dg.Failure(f"extracting account {account_id}, day {day} failed: {e}") from None
        if result.restarted:
            context.log.warning(f"{account_id} {day}: the stored pagination token was refused; fetched afresh")
        if result.resumed_pages:
            context.log.info(f"{account_id} {day}: resumed after {result.resumed_pages} landed pages")
        for warning in result.warnings:
            context.log.warning(f"{account_id} {day}: {warning}")
        stats = result.stats
        return dg.MaterializeResult(metadata={
            "api_version": result.api_version,
            "warnings": "\n".join(result.warnings) or "none",
            "pii_refused": result.pii_refused,
            "pages": len(result.pages),
            "orders": result.orders,
            "calls": stats["calls"],
            "throttled_calls": stats["throttled_calls"],
            "retries": stats["retries"],
            "token_refreshes": stats["token_refreshes"],
            "quota_wait_s": stats["quota_wait_s"],
            "resumed_pages": result.resumed_pages,
            "restarted_window": int(result.restarted),
            "window_hours": round((result.window.end - result.window.start).total_seconds() / 3600, 3),
            "window_complete": result.window.end - result.window.start == timedelta(days=1),
            "window_start": result.window.start.isoformat(),
            "window_end": result.window.end.isoformat(),
            "attempt_id": result.attempt_id,
            "landing": dg.MetadataValue.path(f"{store.describe()}/{PageStore(store, account_id, day).prefix}"),
        })

    return landed_order_pages


def build_order_pages_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="amazon_sp_api__order_pages",
        partitions_def=partitions_def,
        # Not in the `duckdb` pool: a pool slot is claimed before the step's process starts and freed after it
        # ends, so the pool would also serialize seconds of process start-up around a write of a fraction of a
        # second, and a freed slot waits for the next claimant's backoff poll (up to 15 s). The step takes the
        # warehouse's turn (an exclusive file lock, handed over at once) for just the load instead.
        specs=[
            dg.AssetSpec(ORDER_PAGES_KEY, group_name="extract", kinds={"duckdb"}, deps=[LANDED_PAGES_KEY],
                         description=(
                "The partition's landed pages in raw.order_pages, one row per page, verbatim, with the request "
                "parameters, request id and fetch time. A re-load replaces the partition.")),
            dg.AssetSpec(ORDER_RECORDS_KEY, group_name="extract", kinds={"duckdb"}, deps=[ORDER_PAGES_KEY],
                         description=(
                "The orders of raw.order_pages, one row per order record (raw.order_records), written in the same "
                "transaction as the pages. dbt reads these, so no query has to hold whole pages in memory.")),
        ],
    )
    def order_pages(context: dg.AssetExecutionContext, landing: LandingResource, duckdb: WarehouseResource):
        day, account_id = split_key(context.partition_key)
        store = landing.store()
        pages = PageStore(store, account_id, day)
        state = pages.current()
        if state is None or state["status"] not in LOADABLE:
            status = "nothing landed" if state is None else f"an unfinished extraction ({state['status']})"
            raise dg.Failure(f"{account_id} {day}: the landing area has {status}; materialize "
                             f"{LANDED_PAGES_KEY.to_user_string()} for this partition first")
        Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
        with duckdb.get_connection(log=context.log) as conn:
            window = load_landed(conn, pages, account_id, day, state["attempt_id"], state["pages"])
        mark_loaded(store, account_id, day, state["attempt_id"])
        orders = sum(p.order_count for p, _ in window.pages)
        yield dg.MaterializeResult(asset_key=ORDER_PAGES_KEY, metadata={
            "pages": len(window.pages), "orders": orders, "bytes": sum(len(b) for _, b in window.pages),
            "orders_without_items": len(window.orders_without_items),
            "api_version": window.pages[0][0].api_version if window.pages else "none",
            "attempt_id": state["attempt_id"]})
        yield dg.MaterializeResult(asset_key=ORDER_RECORDS_KEY, metadata={"records": orders})

    return order_pages
