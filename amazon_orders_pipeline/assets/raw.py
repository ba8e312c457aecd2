"""The extract stage, in two steps per (day, account) partition:

1. `landed_order_pages`: every searchOrders page of the change window, fetched under the account's quota and landed
   in the landing area. It never opens DuckDB, so extractions of different accounts overlap freely. A backfill runs
   as one run per account over its range of days (single-run backfill policy); a range of at least
   REPORTS_FROM_DAYS days of an account whose history_source is reports lands order reports of 30-day windows.
2. `order_pages` + `order_records`: the landed pages (or the reports' records) loaded into DuckDB in short
   transactions, each taking the warehouse's turn (see `WarehouseResource.turn`) for just that transaction.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.extract import (
    ExtractError,
    ExtractResult,
    PageStore,
    Progress,
    Window,
    extract_window,
)
from amazon_orders_pipeline.extract.get_order import fetch_orders
from amazon_orders_pipeline.extract.increments import ORDERS, SWEEP, WINDOW, DayLog, sweep_window
from amazon_orders_pipeline.extract.landing import day_start
from amazon_orders_pipeline.extract.order_reports import (
    REPORT_API_VERSION,
    REPORTS_FROM_DAYS,
    HistoryPlan,
    ReportStore,
    extract_history,
    plan_history,
    window_records,
)
from amazon_orders_pipeline.extract.quota import QuotaLedger
from amazon_orders_pipeline.notifications.inbox import load_batch
from amazon_orders_pipeline.partitions import split_key
from amazon_orders_pipeline.resources import LandingResource, SpApiResource
from amazon_orders_pipeline.sp_api.auth import AuthError
from amazon_orders_pipeline.sp_api.http import SpApiError
from amazon_orders_pipeline.sp_api.reports import ReportError
from amazon_orders_pipeline.stores import get_json, put_json
from amazon_orders_pipeline.warehouse import NothingLanded, load_increments, replace_report_days
from amazon_orders_pipeline.warehouse_resource import WarehouseResource

LANDED_PAGES_KEY = dg.AssetKey(["amazon_sp_api", "landed_order_pages"])
ORDER_PAGES_KEY = dg.AssetKey(["amazon_sp_api", "order_pages"])
ORDER_RECORDS_KEY = dg.AssetKey(["amazon_sp_api", "order_records"])
RAW_KEYS = (LANDED_PAGES_KEY, ORDER_PAGES_KEY, ORDER_RECORDS_KEY)

# The run tag that says how the extract step gets its partitions' orders: `window` (the default: the whole change
# window, or order reports for a long backfill), `sweep` (what changed since the day's last landed increment:
# the intraday sweeps and the daily close), `recheck` (the lookback's late re-check, through order reports).
EXTRACT_MODE_TAG = "amazon_orders/extract"
RECHECK = "recheck"
EXTRACT_MODES = (WINDOW, SWEEP, RECHECK, ORDERS)
# With mode `orders`: the ORDER_CHANGE batch (notifications/inbox.py) whose orders the run reads with getOrder.
ORDER_BATCH_TAG = "amazon_orders/order_batch"


def extract_mode(context) -> str:
    mode = context.run.tags.get(EXTRACT_MODE_TAG, WINDOW)
    if mode not in EXTRACT_MODES:
        raise dg.Failure(f"run tag {EXTRACT_MODE_TAG}={mode!r}: expected one of {', '.join(EXTRACT_MODES)}")
    if mode == ORDERS and not context.run.tags.get(ORDER_BATCH_TAG):
        raise dg.Failure(f"a run of extract mode {ORDERS} needs the run tag {ORDER_BATCH_TAG}")
    return mode


def order_batch(context, store):
    """The run's ORDER_CHANGE batch."""
    try:
        return load_batch(store, context.run.tags[ORDER_BATCH_TAG])
    except KeyError as e:
        raise dg.Failure(str(e)) from None


def fetched_key(batch_id: str, account_id: str) -> str:
    """Where a run's extract step says which days an account's getOrder increments went to, for its load step."""
    return f"notifications/batches/{batch_id}.fetched/{account_id}.json"
# Accounts extracted side by side in one run (a backfill's run may hold many): each has its own quota.
PARALLEL_ACCOUNTS = 8


def days_by_account(keys) -> dict[str, list[date]]:
    """A run's partition keys (one, or a backfill's range) as each account's days, oldest first."""
    grouped: dict[str, list[date]] = {}
    for key in keys:
        day, account_id = split_key(key)
        grouped.setdefault(account_id, []).append(day)
    return {a: sorted(days) for a, days in sorted(grouped.items())}


def _accounts(sp_api: SpApiResource, account_ids) -> dict[str, Account]:
    accounts = sp_api.accounts()
    unknown = sorted(set(account_ids) - set(accounts))
    if unknown:
        raise dg.Failure(f"accounts {unknown} are not in the accounts file {sp_api.accounts_file}")
    return accounts


def _in_parallel(work: Callable[[str, list[date]], dict], by_account: dict[str, list[date]]) -> list[dict]:
    """Each account's work in a thread of its own (each has its own quota), every account finishing before a
    failure is raised, so what the others landed is kept for the rerun."""
    with ThreadPoolExecutor(max_workers=min(len(by_account), PARALLEL_ACCOUNTS)) as pool:
        futures = {a: pool.submit(work, a, days) for a, days in by_account.items()}
    failures = []
    for account_id, future in futures.items():
        error = future.exception()
        if error is not None:
            failures.append(error.description if isinstance(error, dg.Failure) else f"{account_id}: {error}")
    if failures:
        raise dg.Failure("\n".join(failures))
    return [f.result() for f in futures.values()]


def build_landed_pages_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
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
        by_account = days_by_account(context.partition_keys)
        accounts = _accounts(sp_api, by_account)
        store = landing.store()
        mode = extract_mode(context)

        def extract_account(account_id: str, days: list[date]) -> dict:
            account = accounts[account_id]
            first_client = sp_api.client_for(account)
            try:
                now = first_client.now()  # the API's clock: windows end 2.5 minutes before it
            except AuthError as e:
                raise dg.Failure(f"extracting account {account_id} failed: {e}") from None
            plan = (plan_history(days, source=account.history_source, now=now, recheck=mode == RECHECK)
                    if mode in (WINDOW, RECHECK) else HistoryPlan([], days))
            outcome = {"reports": [], "results": [], "closed": 0, "report_days": len(plan.report_days),
                       "sweeps": 0, "orders": None, "skipped_for_quota": 0}
            if mode == ORDERS:
                batch = order_batch(context, store)
                wanted = batch.orders.get(account_id, {})
                try:
                    fetched = fetch_orders(first_client, store, account_id=account_id, orders=wanted,
                                           pii=account.pii) if wanted else None
                except (SpApiError, AuthError) as e:
                    raise dg.Failure(f"reading account {account_id}'s notified orders failed: {e}") from None
                put_json(store, fetched_key(batch.batch_id, account_id),
                         {"days": sorted(d.isoformat() for d in (fetched.days if fetched else {}))})
                outcome["orders"] = fetched
                return outcome
            if plan.span:
                first, last = plan.span
                context.log.info(f"{account_id}: {len(plan.report_days)} days from {first} to {last} through "
                                 "order reports")
                try:
                    history = extract_history(sp_api.reports_client(account), store, account_id=account_id,
                                              first=first, last=last, marketplace_ids=account.marketplace_ids,
                                              now=now, pii=account.pii)
                except (ExtractError, ReportError, SpApiError, AuthError) as e:
                    raise dg.Failure(f"extracting account {account_id} through reports failed: {e}") from None
                ReportStore(store, account_id).save_range(days[0], days[-1], history, plan.report_days)
                outcome["reports"] = history.reports
            elif mode != SWEEP:
                ReportStore(store, account_id).forget_range(days[0], days[-1])
            ledger = QuotaLedger(store, account_id)
            if mode == SWEEP and plan.api_days and account.api_version != "v0":
                left = ledger.restore(first_client, now)
                if left < 1:
                    context.log.info(f"{account_id}: searchOrders quota spent by another run ({left:.2f} left); "
                                     "skipped this round")
                    outcome["skipped_for_quota"] = 1
                    return outcome
            for day in plan.api_days:
                if mode == SWEEP:
                    settle = timedelta(seconds=sp_api.sweep_settle_s)
                    settled = DayLog(store, account_id, day).settled_until(settle)
                    planned = sweep_window(day, now, settled, settle, timedelta(seconds=sp_api.sweep_overlap_s))
                    if planned is None:  # settled to its close, or nothing settled since the last sweep
                        outcome["closed"] += settled is not None and settled >= day_start(day + timedelta(days=1))
                        continue
                    kind, window = planned
                else:
                    kind, window = WINDOW, None
                outcome["sweeps"] += kind == SWEEP
                client, first_client = first_client or sp_api.client_for(account), None
                outcome["results"].append(extract_day(context, client, store, account, day, now, window, kind))
                if account.api_version != "v0":
                    ledger.save(client)
            return outcome

        outcomes = _in_parallel(extract_account, by_account)
        if mode == ORDERS:
            fetched = [o["orders"] for o in outcomes if o["orders"] is not None]
            return dg.MaterializeResult(metadata={
                "mode": mode, "batch": context.run.tags[ORDER_BATCH_TAG], "accounts": len(fetched),
                "orders": sum(f.orders for f in fetched),
                "not_found": ", ".join(i for f in fetched for i in f.not_found) or "none",
                "days": ", ".join(sorted({d.isoformat() for f in fetched for d in f.days})) or "none",
                "calls": sum(f.stats.get("calls", 0) for f in fetched),
                "throttled_calls": sum(f.stats.get("throttled_calls", 0) for f in fetched),
                "quota_wait_s": round(sum(f.stats.get("quota_wait_s", 0) for f in fetched), 3)})
        results = [r for o in outcomes for r in o["results"]]
        reports = [r for o in outcomes for r in o["reports"]]
        if mode == WINDOW and len(results) == 1 and not reports:
            return dg.MaterializeResult(metadata=day_metadata(results[0], store))
        return dg.MaterializeResult(metadata={
            "mode": mode,
            "accounts": len(by_account),
            "days": sum(len(d) for d in by_account.values()),
            "days_through_reports": sum(o["report_days"] for o in outcomes),
            "sweeps": sum(o["sweeps"] for o in outcomes),
            "accounts_skipped_for_quota": sum(o["skipped_for_quota"] for o in outcomes),
            "days_closed_before": sum(o["closed"] for o in outcomes),
            "reports": len(reports),
            "reports_cancelled": sum(r.status == "CANCELLED" for r in reports),
            "reports_downloaded": sum(r.downloaded for r in reports),
            "pages": sum(len(r.pages) for r in results),
            "orders_through_pages": sum(r.orders for r in results),
            "calls": sum(r.stats["calls"] for r in results),
            "throttled_calls": sum(r.stats["throttled_calls"] for r in results),
            "quota_wait_s": round(sum(r.stats["quota_wait_s"] for r in results), 3),
            "warnings": "\n".join(w for r in results for w in r.warnings) or "none",
            "landing": dg.MetadataValue.path(store.describe()),
        })

    return landed_order_pages


def extract_day(context: dg.AssetExecutionContext, client, store, account: Account, day: date, now: datetime,
                window: Window | None = None, kind: str = WINDOW) -> ExtractResult:
    """One (day, account) change window (or a sweep's `window` of it), page by page."""
    account_id = account.id

    def progress(p: Progress) -> None:
        context.log.info(f"{account_id} {day}: landed page {p.page.number}; {p.describe()}")

    try:
        result = extract_window(client, store, account_id=account_id, day=day,
                                marketplace_ids=account.marketplace_ids, pii=account.pii, on_page=progress,
                                api_version=account.api_version, now=now, window=window, kind=kind)
    except (ExtractError, SpApiError, AuthError) as e:
        raise dg.Failure(f"extracting account {account_id}, day {day} failed: {e}") from None
    if result.restarted:
        context.log.warning(f"{account_id} {day}: the stored pagination token was refused; fetched afresh")
    if result.resumed_pages:
        context.log.info(f"{account_id} {day}: resumed after {result.resumed_pages} landed pages")
    for warning in result.warnings:
        context.log.warning(f"{account_id} {day}: {warning}")
    return result


def day_metadata(result: ExtractResult, store) -> dict:
    stats = result.stats
    return {
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
        "landing": dg.MetadataValue.path(
            f"{store.describe()}/{PageStore(store, result.account_id, result.partition_date).prefix}"),
    }


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
                "The partition's landed pages in raw.order_pages, one row per page, verbatim, with the request "
                "parameters, request id and fetch time. A re-load replaces the partition.")),
            dg.AssetSpec(ORDER_RECORDS_KEY, group_name="extract", kinds={"duckdb"}, deps=[ORDER_PAGES_KEY],
                         description=(
                "The orders of raw.order_pages, one row per order record (raw.order_records), written in the same "
                "transaction as the pages. dbt reads these, so no query has to hold whole pages in memory.")),
        ],
    )
    def order_pages(context: dg.AssetExecutionContext, sp_api: SpApiResource, landing: LandingResource,
                    duckdb: WarehouseResource):
        by_account = days_by_account(context.partition_keys)
        accounts = _accounts(sp_api, by_account)
        store = landing.store()
        mode = extract_mode(context)
        if duckdb.lake is None:
            Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
        pages = orders = report_records = size = without_items = 0
        api_versions, attempts = set(), []
        for account_id, days in by_account.items():
            account = accounts[account_id]
            reports = ReportStore(store, account_id)
            if mode == ORDERS:
                # The days the getOrder increments went to (their orders' lastUpdatedTime), not the run's.
                done = get_json(store, fetched_key(context.run.tags[ORDER_BATCH_TAG], account_id)) or {}
                days = sorted({date.fromisoformat(d) for d in done.get("days", [])})
            landed = reports.landed_range(days[0], days[-1]) if mode in (WINDOW, RECHECK) and days else None
            report_days = set(landed[1]) & set(days) if landed else set()
            if landed:
                params = {"source": "reports", "reports": [r.report_id for r in landed[0]]}
                for covered, read in window_records(reports, landed[0], sorted(report_days), pii=account.pii):
                    # A transaction per window, one day's records in memory at a time.
                    def load(covered=covered, read=read, account_id=account_id, pii=account.pii, params=params) -> int:
                        with duckdb.get_connection(log=context.log) as conn:
                            return replace_report_days(
                                conn, account_id, ((day, read(day)) for day in covered),
                                attempt_id=context.run.run_id[:12], fetched_at=datetime.now(UTC),
                                is_redacted=not pii, request_params=params)

                    report_records += duckdb.retrying(load, f"the report load of {account_id}", log=context.log)
                api_versions.add(REPORT_API_VERSION)
            for day in days:
                if day in report_days:
                    continue
                for window, attempt_id in load_day(context, store, duckdb, account_id, day,
                                                   may_be_empty=mode == SWEEP):
                    pages += len(window.pages)
                    orders += sum(p.order_count for p, _ in window.pages)
                    size += sum(len(b) for _, b in window.pages)
                    without_items += len(window.orders_without_items)
                    attempts.append(attempt_id)
                    if window.pages:
                        api_versions.add(window.pages[0][0].api_version)
        yield dg.MaterializeResult(asset_key=ORDER_PAGES_KEY, metadata={
            "increments": len(attempts),
            "pages": pages, "orders": orders, "bytes": size, "orders_without_items": without_items,
            "report_records": report_records, "api_version": ", ".join(sorted(api_versions)) or "none",
            **({"attempt_id": attempts[0]} if len(attempts) == 1 else {})})
        yield dg.MaterializeResult(asset_key=ORDER_RECORDS_KEY, metadata={"records": orders + report_records})

    return order_pages


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
