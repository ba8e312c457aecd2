"""Backfill a range of days as a backfill launched from the UI runs it (`amazon-orders history`): the extract stage
over the whole range as one run (each account's days of at least REPORTS_FROM_DAYS through order reports of 30-day
windows when its history_source says so, resumable), then the transform, checks and exports over the range as one
run. A year is about 13 reports per account instead of weeks of searchOrders quota."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from amazon_orders_pipeline import local_runs
from amazon_orders_pipeline.accounts import load_accounts
from amazon_orders_pipeline.assets.keys import LANDED_PAGES_KEY, ORDER_PAGES_KEY
from amazon_orders_pipeline.settings import Settings


@dataclass
class HistoryRun:
    extract: list[dg.ExecuteInProcessResult]
    transform: dg.ExecuteInProcessResult | None

    @property
    def success(self) -> bool:
        return all(r.success for r in self.extract) and (self.transform is None or self.transform.success)

    def metadata(self) -> list[dict]:
        """The extract runs' metadata (reports, days through reports, pages), per run and asset. A run's step
        materializes each of its partitions with the same metadata; it is listed once."""
        found = {}
        for n, run in enumerate(self.extract):
            for e in run.get_asset_materialization_events():
                if e.asset_key in (LANDED_PAGES_KEY, ORDER_PAGES_KEY):
                    found.setdefault((n, e.asset_key), {"asset": e.asset_key.to_user_string(), **{
                        k: v.value for k, v in e.materialization.metadata.items()}})
        return list(found.values())


def backfill_history(first: date, last: date, *, environ: Mapping[str, str], account_ids: list[str] | None = None,
                     resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                     transform: bool = True, exports: bool = True, now: datetime | None = None) -> HistoryRun:
    """[first, last] of every account (or of `account_ids`, one run each), then the transform of the range (and its
    exports, unless `exports` is False)."""
    settings = Settings.from_env(environ)
    known = [a.id for a in load_accounts(settings.accounts_file)]
    if account_ids and set(account_ids) - set(known):
        raise ValueError(f"unknown accounts: {sorted(set(account_ids) - set(known))}")
    # The newest complete day: today's partition does not exist yet (its daily run picks it up).
    last = min(last, (now or datetime.now(UTC)).date() - timedelta(days=1))
    if last < first:
        raise ValueError(f"nothing to backfill: {first} is after the newest complete day {last}")
    groups = [[a] for a in account_ids] if account_ids else [known]
    extract = [local_runs.materialize_raw_range(first, last, group, environ=environ, resources=resources,
                                                instance=instance, raise_on_error=False) for group in groups]
    outcome = None
    if transform and all(r.success for r in extract):
        outcome = local_runs.materialize_transform(first, last, environ=environ, resources=resources,
                                                   instance=instance, raise_on_error=False, exports=exports)
    return HistoryRun(extract, outcome)
