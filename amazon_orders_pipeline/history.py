"""Backfill history through order tracking reports: each account's 30-day report windows landed (resumable), their
records loaded into the raw tables beside the API's pages, then the transform, checks and exports over the range as
one run. A year is about 13 reports per account instead of weeks of searchOrders quota.

    python -m amazon_orders_pipeline.history --start 2026-01-01 --end 2026-11-25 [--account ID ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from amazon_orders_pipeline import local_runs
from amazon_orders_pipeline.extract.order_reports import (
    HistoryResult,
    ReportStore,
    extract_history,
    report_records,
)
from amazon_orders_pipeline.resources import build_resources
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.sp_api.reports import Polling, ReportsClient
from amazon_orders_pipeline.warehouse import replace_report_days


@dataclass
class AccountHistory:
    account_id: str
    reports: int
    cancelled: int
    downloaded: int
    records: int
    days: list[date] = field(default_factory=list)


@dataclass
class HistoryRun:
    accounts: list[AccountHistory]
    transform: dg.ExecuteInProcessResult | None

    @property
    def success(self) -> bool:
        return self.transform is None or self.transform.success


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def backfill_history(first: date, last: date, *, environ: Mapping[str, str], account_ids: list[str] | None = None,
                     resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                     polling: Polling | None = None, sleep: Callable[[float], None] = time.sleep,
                     fatal_retry_s: float | None = None, now: datetime | None = None,
                     transform: bool = True) -> HistoryRun:
    settings = Settings.from_env(environ)
    resources = resources or build_resources(settings)
    sp_api, landing, warehouse = resources["sp_api"], resources["landing"].store(), resources["duckdb"]
    now = now or datetime.now(UTC)
    accounts = [a for a in settings.accounts() if not account_ids or a.id in account_ids]
    if account_ids and len(accounts) != len(set(account_ids)):
        raise ValueError(f"unknown accounts: {sorted(set(account_ids) - {a.id for a in accounts})}")
    done: list[AccountHistory] = []
    written_days: set[date] = set()
    for account in accounts:
        reports = ReportsClient(sp_api.client_for(account), polling=polling, sleep=sleep)
        kwargs = {} if fatal_retry_s is None else {"fatal_retry_s": fatal_retry_s}
        result: HistoryResult = extract_history(reports, landing, account_id=account.id, first=first, last=last,
                                                marketplace_ids=account.marketplace_ids, now=now, sleep=sleep,
                                                **kwargs)
        store = ReportStore(landing, account.id)
        by_day: dict[date, list[dict]] = {}
        for landed in result.reports:
            if landed.document_key:
                for day, records in report_records(store.read(landed), pii=account.pii,
                                                   fallback_day=landed.window[0].date()).items():
                    by_day.setdefault(day, []).extend(records)
        params = {"source": "reports", "first": first.isoformat(), "last": last.isoformat(),
                  "reports": [r.report_id for r in result.reports]}
        with warehouse.get_connection() as conn:
            records = replace_report_days(conn, account.id, days_between(first, last), by_day,
                                          attempt_id=uuid.uuid4().hex[:12], fetched_at=now,
                                          is_redacted=not account.pii, request_params=params)
        written_days |= set(by_day)
        done.append(AccountHistory(account.id, len(result.reports), result.cancelled,
                                   sum(r.downloaded for r in result.reports), records, sorted(by_day)))
    outcome = None
    if transform and done:
        # Through the newest complete day: today's partition does not exist yet (its daily run picks it up).
        newest = min(max(written_days | {last}), now.date() - timedelta(days=1))
        oldest = min(written_days | {first})
        outcome = local_runs.materialize_transform(oldest, newest, environ=environ, resources=resources,
                                                   instance=instance, raise_on_error=False)
    return HistoryRun(done, outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amazon_orders_pipeline.history", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first UTC day")
    parser.add_argument("--end", type=date.fromisoformat, required=True, help="last UTC day")
    parser.add_argument("--account", action="append", help="an account id (default: every account)")
    args = parser.parse_args(argv)
    run = backfill_history(args.start, args.end, environ=os.environ, account_ids=args.account)
    print(json.dumps({"accounts": [a.__dict__ | {"days": len(a.days)} for a in run.accounts],
                      "transform": None if run.transform is None else run.transform.success}, default=str))
    return 0 if run.success else 1


if __name__ == "__main__":
    sys.exit(main())
