"""The daily schedule: extract each new UTC day for every account, re-extract the lookback days, and let the
transform and exports follow each day once its extraction has landed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from amazon_orders_pipeline.assets.raw import RAW_KEYS

# 00:20 UTC: the day's window must end at least 2 minutes before a request, and Amazon's index lags a little more.
DAILY_CRON = "20 0 * * *"
EXTRACT_JOB = "daily_extract"


def days_to_extract(scheduled_at: datetime, lookback: int) -> list[date]:
    """The day that has just closed, and the `lookback` days before it, oldest first."""
    newest = scheduled_at.astimezone(UTC).date() - timedelta(days=1)
    return [newest - timedelta(days=n) for n in range(lookback, -1, -1)]


def after_extraction(lookback: int) -> dg.AutomationCondition:
    """Dagster's eager condition (run when the upstream partitions have been updated, none is missing and none is
    in progress), widened from the newest day to the lookback window: a day re-extracted by the lookback gets its
    transform and exports re-run too. Every account's raw partition of a day is upstream of that day, so the
    transform waits until all of them have landed."""
    return dg.AutomationCondition.eager().replace(
        dg.AutomationCondition.in_latest_time_window(),
        dg.AutomationCondition.in_latest_time_window(timedelta(days=lookback + 1)),
    )


def build_daily_extract(raw_partitions: dg.MultiPartitionsDefinition, account_ids: Sequence[str],
                        lookback: int) -> tuple[dg.UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    job = dg.define_asset_job(EXTRACT_JOB, selection=dg.AssetSelection.assets(*RAW_KEYS),
                              partitions_def=raw_partitions,
                              description="Extract one (day, account) change window and load its pages.")

    @dg.schedule(job=job, cron_schedule=DAILY_CRON, execution_timezone="UTC", name="daily_extract_schedule",
                 description=f"After each UTC day closes: extract it for every account, and the {lookback} days "
                             "before it again. The transform and exports follow by automation.")
    def daily_extract_schedule(context: dg.ScheduleEvaluationContext):
        scheduled_at = context.scheduled_execution_time
        days = days_to_extract(scheduled_at, lookback)
        for day in days:
            for account_id in account_ids:
                key = dg.MultiPartitionKey({"date": day.isoformat(), "account": account_id})
                yield dg.RunRequest(run_key=f"{scheduled_at.date().isoformat()}:{key}", partition_key=key,
                                    tags={"lookback": "true" if day != days[-1] else "false"})

    return job, daily_extract_schedule
