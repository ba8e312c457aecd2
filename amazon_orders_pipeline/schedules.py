"""The extract schedules: intraday sweeps of today, and after each UTC day closes, its last sweep plus a late
re-check of the lookback days. The transform and exports follow each day once its extraction has landed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from amazon_orders_pipeline.assets.keys import (
    EXTRACT_MODE_TAG,
    FINANCE_RAW_KEYS,
    RAW_KEYS,
    RETURN_RAW_KEYS,
    SETTLEMENT_REPORTS_KEY,
    SETTLEMENT_ROWS_KEY,
)
from amazon_orders_pipeline.extract.increments import SWEEP
from amazon_orders_pipeline.extract.landing import MIN_LAG
from amazon_orders_pipeline.extract.plan import RECHECK
from amazon_orders_pipeline.finances.landing import READ_AGES
from amazon_orders_pipeline.returns.landing import TRAILING_DAYS

# 00:20 UTC: the day's window must end at least 2 minutes before a request, and Amazon's index lags a little more.
DAILY_CRON = "20 0 * * *"
EXTRACT_JOB = "daily_extract"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
# Sweep rounds in the first hour after midnight also sweep yesterday, so it closes within minutes, before the daily
# close at 00:20 (which then finds it closed).
CLOSE_WITHIN = timedelta(hours=1)


def days_to_extract(scheduled_at: datetime, lookback: int) -> list[date]:
    """The day that has just closed, and the `lookback` days before it, oldest first."""
    newest = scheduled_at.astimezone(UTC).date() - timedelta(days=1)
    return [newest - timedelta(days=n) for n in range(lookback, -1, -1)]


def partition_range(days: Sequence[date], account_ids: Sequence[str]) -> dict[str, str]:
    """The run tags of one run over days x accounts (the accounts in the accounts file's order)."""
    first = dg.MultiPartitionKey({"date": min(days).isoformat(), "account": account_ids[0]})
    last = dg.MultiPartitionKey({"date": max(days).isoformat(), "account": account_ids[-1]})
    return {RANGE_START: str(first), RANGE_END: str(last)}


def days_to_sweep(at: datetime) -> list[date]:
    """The days a sweep round at `at` sweeps: today once its window has opened, and yesterday in the hour after
    midnight."""
    at = at.astimezone(UTC)
    today = at.date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    days = [today - timedelta(days=1)] if at - midnight < CLOSE_WITHIN else []
    return days + ([today] if at - MIN_LAG > midnight else [])


def extraction_running(instance: dg.DagsterInstance, mode: str) -> bool:
    """Whether a run of this extract mode is queued or running."""
    runs = instance.get_run_records(dg.RunsFilter(
        tags={EXTRACT_MODE_TAG: mode},
        statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                  dg.DagsterRunStatus.STARTED]), limit=1)
    return bool(runs)


def build_extract_schedules(account_ids: Sequence[str], lookback: int, sweep_minutes: int
                            ) -> tuple[dg.UnresolvedAssetJobDefinition, list[dg.ScheduleDefinition]]:
    job = dg.define_asset_job(EXTRACT_JOB, selection=dg.AssetSelection.assets(*RAW_KEYS),
                              description="Extract change windows and load their pages (the run tag "
                                          f"{EXTRACT_MODE_TAG} says how: window, sweep or recheck).")

    @dg.schedule(job=job, cron_schedule=DAILY_CRON, execution_timezone="UTC", name="daily_extract_schedule",
                 description=f"After each UTC day closes: its last sweep for every account, then a late re-check "
                             f"of the {lookback} days before it through order reports (page by page for accounts "
                             "whose history_source is api). The transform and exports follow by automation.")
    def daily_extract_schedule(context: dg.ScheduleEvaluationContext):
        scheduled_at = context.scheduled_execution_time
        days = days_to_extract(scheduled_at, lookback)
        closed, recheck = days[-1], days[:-1]
        stamp = scheduled_at.date().isoformat()
        yield dg.RunRequest(run_key=f"{stamp}:close", tags={
            **partition_range([closed], account_ids), EXTRACT_MODE_TAG: SWEEP, "lookback": "false"})
        if recheck:
            yield dg.RunRequest(run_key=f"{stamp}:recheck", tags={
                **partition_range(recheck, account_ids), EXTRACT_MODE_TAG: RECHECK, "lookback": "true"})

    @dg.schedule(job=job, cron_schedule=f"*/{sweep_minutes} * * * *", execution_timezone="UTC",
                 name="intraday_sweep_schedule",
                 description=f"Every {sweep_minutes} minutes: one run that sweeps every account's today (and, in the "
                             "hour after midnight, yesterday's close): only what changed since the last landed "
                             "sweep, once the search index has settled. Skipped while the previous round still runs.")
    def intraday_sweep_schedule(context: dg.ScheduleEvaluationContext):
        at = context.scheduled_execution_time
        days = days_to_sweep(at)
        if not days:
            return dg.SkipReason(f"{at.isoformat()}: today's change window has not opened yet")
        if extraction_running(context.instance, SWEEP):
            return dg.SkipReason("the previous sweep round is still queued or running")
        return dg.RunRequest(run_key=f"sweep:{at.isoformat()}",
                             tags={**partition_range(days, account_ids), EXTRACT_MODE_TAG: SWEEP})

    return job, [daily_extract_schedule, intraday_sweep_schedule]


FINANCES_JOB = "daily_finances"
FINANCES_CRON = "0 2 * * *"  # 02:00 UTC, after the orders' daily close
SETTLEMENTS_JOB = "settlements"
SETTLEMENT_KEYS = (SETTLEMENT_REPORTS_KEY, SETTLEMENT_ROWS_KEY)
SETTLEMENTS_CRON = "30 1 * * *"  # before the day's transaction reads, whose transform then ties them out


def finance_days(scheduled_at: datetime) -> list[date]:
    """The posted days a daily run of the money reads: each READ_AGES days before the schedule's day."""
    today = scheduled_at.astimezone(UTC).date()
    return [today - timedelta(days=age) for age in sorted(READ_AGES, reverse=True)]


def build_finance_schedule(account_ids: Sequence[str]) -> tuple[dg.UnresolvedAssetJobDefinition,
                                                                dg.UnresolvedAssetJobDefinition,
                                                                list[dg.ScheduleDefinition]]:
    job = dg.define_asset_job(FINANCES_JOB, selection=dg.AssetSelection.assets(*FINANCE_RAW_KEYS),
                              description="Read posted days of Amazon's transactions (Finances v2024-06-19) and load "
                                          "them; the finances dbt models follow by automation.")

    @dg.schedule(job=job, cron_schedule=FINANCES_CRON, execution_timezone="UTC", name="daily_finances_schedule",
                 description="Every day: each account's posted days "
                             f"{', '.join(str(a) for a in READ_AGES)} days back (the first read past Amazon's "
                             "48-hour lag, then again for late listings and released deferrals), one run per day.")
    def daily_finances_schedule(context: dg.ScheduleEvaluationContext):
        stamp = context.scheduled_execution_time.date().isoformat()
        for day in finance_days(context.scheduled_execution_time):
            yield dg.RunRequest(run_key=f"{stamp}:finances:{day.isoformat()}",
                                tags=partition_range([day], account_ids))

    settlements = dg.define_asset_job(SETTLEMENTS_JOB, selection=dg.AssetSelection.assets(*SETTLEMENT_KEYS),
                                      description="Download the settlement reports Amazon has made since the last "
                                                  "run (it lists 90 days of them) and load them.")
    settlement_schedule = dg.ScheduleDefinition(
        name="daily_settlements_schedule", job=settlements, cron_schedule=SETTLEMENTS_CRON,
        execution_timezone="UTC", description="Every day: the settlement reports Amazon made since the last run.")
    return job, settlements, [daily_finances_schedule, settlement_schedule]


RETURNS_JOB = "daily_returns"
RETURNS_CRON = "0 3 * * *"  # 03:00 UTC, after the money's reads, whose refunds the returns are paired with


def returns_days(scheduled_at: datetime, first_day: date) -> list[date]:
    """The report days a daily run of the returns reads again: the TRAILING_DAYS up to yesterday, oldest first,
    from the first partition on."""
    return [d for d in days_to_extract(scheduled_at, TRAILING_DAYS - 1) if d >= first_day]


def build_returns_schedule(account_ids: Sequence[str], first_day: date
                           ) -> tuple[dg.UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    job = dg.define_asset_job(RETURNS_JOB, selection=dg.AssetSelection.assets(*RETURN_RAW_KEYS),
                              description="Read both returns reports over report days and load them; the returns "
                                          "dbt models follow by automation.")

    @dg.schedule(job=job, cron_schedule=RETURNS_CRON, execution_timezone="UTC", name="daily_returns_schedule",
                 description=f"Every day: each account's last {TRAILING_DAYS} report days, one run (the FBA rows "
                             "Amazon added late, the MFN returns whose status or refund changed).")
    def daily_returns_schedule(context: dg.ScheduleEvaluationContext):
        stamp = context.scheduled_execution_time.date().isoformat()
        days = returns_days(context.scheduled_execution_time, first_day)
        if not days:
            return dg.SkipReason(f"the partitions start on {first_day}: no report day has closed since")
        return dg.RunRequest(run_key=f"{stamp}:returns", tags=partition_range(days, account_ids))

    return job, daily_returns_schedule
