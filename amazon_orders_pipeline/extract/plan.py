"""What one account's extract run does, decided in plain Python: by the run's mode (a whole change window or order
reports for a long range, a sweep of what changed since the last landed increment, the lookback's late re-check,
or the orders an ORDER_CHANGE batch names), then run, each account in a thread of its own. Each outcome carries its
own numeric metadata; the asset only wires it up."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.extract.get_order import OrdersResult, fetch_orders
from amazon_orders_pipeline.extract.increments import ORDERS, SWEEP, WINDOW, DayLog, sweep_window
from amazon_orders_pipeline.extract.landing import ExtractError, ExtractResult, Progress, Window, day_start
from amazon_orders_pipeline.extract.order_reports import HistoryPlan, ReportStore, extract_history, plan_history
from amazon_orders_pipeline.extract.quota import QuotaLedger
from amazon_orders_pipeline.extract.window import extract_window
from amazon_orders_pipeline.sp_api.auth import AuthError
from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.reports import ReportError, ReportsClient
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

RECHECK = "recheck"
# How a run gets its partitions' orders: `window` (the default: the whole change window, or order reports for a
# long backfill), `sweep` (what changed since the day's last landed increment: the intraday sweeps and the daily
# close), `recheck` (the lookback's late re-check, through order reports), `orders` (getOrder for a notified batch).
EXTRACT_MODES = (WINDOW, SWEEP, RECHECK, ORDERS)
# Accounts extracted side by side in one run (a backfill's run may hold many): each has its own quota.
PARALLEL_ACCOUNTS = 8


class ExtractFailed(RuntimeError):
    """One account's extraction failed; the message names the account (and the day), never credentials."""


class Log(Protocol):
    def info(self, msg: str) -> None: ...

    def warning(self, msg: str) -> None: ...


@dataclass(frozen=True)
class SweepPolicy:
    """Where a sweep's window ends and starts (SWEEP_SETTLE_MINUTES, SWEEP_OVERLAP_MINUTES)."""

    settle: timedelta = timedelta(minutes=5)  # a sweep's window ends this long before now
    overlap: timedelta = timedelta(0)  # what a sweep re-reads before where the day settled


@dataclass(frozen=True)
class Access:
    """How an account's run reaches Amazon and the landing area, and how it sweeps."""

    client: Callable[[], SpApiClient]  # a new client of the account (its own pacing)
    reports: Callable[[], ReportsClient]
    store: ObjectStore
    sweeps: SweepPolicy


@dataclass
class AccountRun:
    """What an account's run did."""

    account_id: str
    results: list[ExtractResult] = field(default_factory=list)  # the windows read page by page
    reports: list = field(default_factory=list)  # the order reports landed (LandedReport)
    report_days: int = 0
    sweeps: int = 0
    closed: int = 0  # days a sweep found closed already
    skipped_for_quota: int = 0
    orders: OrdersResult | None = None  # mode `orders`: what getOrder read


def days_by_account(keys: list[tuple[date, str]]) -> dict[str, list[date]]:
    """A run's (day, account) partitions as each account's days, oldest first."""
    grouped: dict[str, list[date]] = {}
    for day, account_id in keys:
        grouped.setdefault(account_id, []).append(day)
    return {a: sorted(days) for a, days in sorted(grouped.items())}


def in_parallel(work: Callable[[str, list[date]], AccountRun], by_account: dict[str, list[date]]) -> list[AccountRun]:
    """Each account's work in a thread of its own (each has its own quota), every account finishing before a
    failure is raised, so what the others landed is kept for the rerun."""
    with ThreadPoolExecutor(max_workers=min(len(by_account), PARALLEL_ACCOUNTS)) as pool:
        futures = {a: pool.submit(work, a, days) for a, days in by_account.items()}
    failures = []
    for account_id, future in futures.items():
        error = future.exception()
        if error is not None:
            failures.append(str(error) if isinstance(error, ExtractFailed) else f"{account_id}: {error}")
    if failures:
        raise ExtractFailed("\n".join(failures))
    return [f.result() for f in futures.values()]


def fetched_key(batch_id: str, account_id: str) -> str:
    """Where a run's extract step says which days an account's getOrder increments went to, for its load step."""
    return f"notifications/batches/{batch_id}.fetched/{account_id}.json"


def fetched_days(store: ObjectStore, batch_id: str, account_id: str) -> list[date]:
    """The days an account's getOrder increments of a batch went to (their orders' lastUpdatedTime)."""
    done = get_json(store, fetched_key(batch_id, account_id)) or {}
    return sorted({date.fromisoformat(d) for d in done.get("days", [])})


def read_orders(account: Account, access: Access, batch_id: str, wanted: dict[str, str]) -> AccountRun:
    """Mode `orders`: getOrder each notified order once, landed as `orders` increments, and where they went."""
    run = AccountRun(account.id)
    try:
        run.orders = fetch_orders(access.client(), access.store, account_id=account.id, orders=wanted,
                                  pii=account.pii) if wanted else None
    except (SpApiError, AuthError) as e:
        raise ExtractFailed(f"reading account {account.id}'s notified orders failed: {e}") from None
    put_json(access.store, fetched_key(batch_id, account.id),
             {"days": sorted(d.isoformat() for d in (run.orders.days if run.orders else {}))})
    return run


def extract_account(account: Account, days: list[date], mode: str, access: Access, log: Log) -> AccountRun:
    """Modes window, sweep and recheck: the days through order reports where the plan says so, the rest page by
    page (a sweep only what changed since the day settled, and nothing while another run spent the quota)."""
    first_client: SpApiClient | None = access.client()
    try:
        now = first_client.now()  # the API's clock: windows end 2.5 minutes before it
    except AuthError as e:
        raise ExtractFailed(f"extracting account {account.id} failed: {e}") from None
    plan = (plan_history(days, source=account.history_source, now=now, recheck=mode == RECHECK)
            if mode in (WINDOW, RECHECK) else HistoryPlan([], days))
    run = AccountRun(account.id, report_days=len(plan.report_days))
    if plan.span:
        _extract_reports(account, days, plan, access, now, run, log)
    elif mode != SWEEP:
        ReportStore(access.store, account.id).forget_range(days[0], days[-1])
    ledger = QuotaLedger(access.store, account.id)
    if mode == SWEEP and plan.api_days and account.api_version != "v0":
        left = ledger.restore(first_client, now)
        if left < 1:
            log.info(f"{account.id}: searchOrders quota spent by another run ({left:.2f} left); skipped this round")
            run.skipped_for_quota = 1
            return run
    for day in plan.api_days:
        kind, window = WINDOW, None
        if mode == SWEEP:
            settled = DayLog(access.store, account.id, day).settled_until(access.sweeps.settle)
            planned = sweep_window(day, now, settled, access.sweeps.settle, access.sweeps.overlap)
            if planned is None:  # settled to its close, or nothing settled since the last sweep
                run.closed += settled is not None and settled >= day_start(day + timedelta(days=1))
                continue
            kind, window = planned
        run.sweeps += kind == SWEEP
        client, first_client = first_client or access.client(), None
        run.results.append(extract_day(client, access.store, account, day, now, log, window, kind))
        if account.api_version != "v0":
            ledger.save(client)
    return run


def _extract_reports(account: Account, days: list[date], plan: HistoryPlan, access: Access, now: datetime,
                     run: AccountRun, log: Log) -> None:
    first, last = plan.span
    log.info(f"{account.id}: {len(plan.report_days)} days from {first} to {last} through order reports")
    try:
        history = extract_history(access.reports(), access.store, account_id=account.id, first=first, last=last,
                                  marketplace_ids=account.marketplace_ids, now=now, pii=account.pii)
    except (ExtractError, ReportError, SpApiError, AuthError) as e:
        raise ExtractFailed(f"extracting account {account.id} through reports failed: {e}") from None
    ReportStore(access.store, account.id).save_range(days[0], days[-1], history, plan.report_days)
    run.reports = history.reports


def extract_day(client: SpApiClient, store: ObjectStore, account: Account, day: date, now: datetime, log: Log,
                window: Window | None = None, kind: str = WINDOW) -> ExtractResult:
    """One (day, account) change window (or a sweep's `window` of it), page by page."""
    account_id = account.id

    def progress(p: Progress) -> None:
        log.info(f"{account_id} {day}: landed page {p.page.number}; {p.describe()}")

    try:
        result = extract_window(client, store, account_id=account_id, day=day,
                                marketplace_ids=account.marketplace_ids, pii=account.pii, on_page=progress,
                                api_version=account.api_version, now=now, window=window, kind=kind)
    except (ExtractError, SpApiError, AuthError) as e:
        raise ExtractFailed(f"extracting account {account_id}, day {day} failed: {e}") from None
    if result.restarted:
        log.warning(f"{account_id} {day}: the stored pagination token was refused; fetched afresh")
    if result.resumed_pages:
        log.info(f"{account_id} {day}: resumed after {result.resumed_pages} landed pages")
    for warning in result.warnings:
        log.warning(f"{account_id} {day}: {warning}")
    return result


def orders_metadata(runs: list[AccountRun]) -> dict:
    """Mode `orders`: what getOrder read, over the run's accounts."""
    fetched = [r.orders for r in runs if r.orders is not None]
    return {
        "accounts": len(fetched),
        "orders": sum(f.orders for f in fetched),
        "not_found": ", ".join(i for f in fetched for i in f.not_found) or "none",
        "days": ", ".join(sorted({d.isoformat() for f in fetched for d in f.days})) or "none",
        "calls": sum(f.stats.get("calls", 0) for f in fetched),
        "throttled_calls": sum(f.stats.get("throttled_calls", 0) for f in fetched),
        "quota_wait_s": round(sum(f.stats.get("quota_wait_s", 0) for f in fetched), 3),
    }


def run_metadata(runs: list[AccountRun], by_account: dict[str, list[date]]) -> dict:
    """Modes window, sweep and recheck, over the run's accounts and days."""
    results = [r for run in runs for r in run.results]
    reports = [r for run in runs for r in run.reports]
    return {
        "accounts": len(by_account),
        "days": sum(len(d) for d in by_account.values()),
        "days_through_reports": sum(r.report_days for r in runs),
        "sweeps": sum(r.sweeps for r in runs),
        "accounts_skipped_for_quota": sum(r.skipped_for_quota for r in runs),
        "days_closed_before": sum(r.closed for r in runs),
        "reports": len(reports),
        "reports_cancelled": sum(r.status == "CANCELLED" for r in reports),
        "reports_downloaded": sum(r.downloaded for r in reports),
        "pages": sum(len(r.pages) for r in results),
        "orders_through_pages": sum(r.orders for r in results),
        "calls": sum(r.stats["calls"] for r in results),
        "throttled_calls": sum(r.stats["throttled_calls"] for r in results),
        "quota_wait_s": round(sum(r.stats["quota_wait_s"] for r in results), 3),
        "warnings": "\n".join(w for r in results for w in r.warnings) or "none",
    }


def day_metadata(result: ExtractResult) -> dict:
    """One (day, account) window read page by page: the figures Dagster plots per partition."""
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
    }
