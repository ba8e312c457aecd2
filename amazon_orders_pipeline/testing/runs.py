"""In-process pipeline runs for tests, with retries that back off in milliseconds, and reads of what they wrote."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb

from amazon_orders_pipeline import local_runs, warehouse
from amazon_orders_pipeline.assets.keys import MCF_KEY, WRITEBACK_KEY
from amazon_orders_pipeline.resources import SpApiResource, build_resources
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.warehouse import replace_partition


def fast_resources(environ: dict[str, str]) -> dict:
    """The pipeline's resources, with retries and report polls that wait milliseconds instead of seconds."""
    resources = build_resources(Settings.from_env(environ))
    base = resources["sp_api"]
    resources["sp_api"] = SpApiResource(accounts_file=base.accounts_file, endpoint=base.endpoint,
                                        lwa_token_url=base.lwa_token_url, retry_base_delay_s=0.01,
                                        report_poll_s=0.02)
    return resources


def materialize_raw(environ: dict[str, str], day: date, account_id: str, instance=None,
                    raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return local_runs.materialize_raw(day, account_id, environ=environ, resources=fast_resources(environ),
                                      instance=instance, raise_on_error=raise_on_error)


def sweep(environ: dict[str, str], day: date, account_ids: list[str], instance=None, mode: str = "sweep",
          raise_on_error: bool = True, first: date | None = None) -> dg.ExecuteInProcessResult:
    """One sweep round of `day` for the accounts, as the intraday schedule runs it (or a run of another extract
    mode over [first, day])."""
    return local_runs.materialize_raw_range(first or day, day, account_ids, environ=environ,
                                            resources=fast_resources(environ), instance=instance,
                                            raise_on_error=raise_on_error, mode=mode)


def materialize_raw_range(environ: dict[str, str], first: date, last: date, account_ids: list[str],
                          instance=None) -> dg.ExecuteInProcessResult:
    return local_runs.materialize_raw_range(first, last, account_ids, environ=environ,
                                            resources=fast_resources(environ), instance=instance)


def materialize_raw_tags(environ: dict[str, str], tags: dict[str, str], instance=None,
                         raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return local_runs.materialize_raw_tags(tags, environ=environ, resources=fast_resources(environ),
                                           instance=instance, raise_on_error=raise_on_error)


def materialize_transform(environ: dict[str, str], first: date, last: date | None = None, instance=None,
                          raise_on_error: bool = True, full_refresh: bool = False) -> dg.ExecuteInProcessResult:
    return local_runs.materialize_transform(first, last or first, environ=environ, resources=fast_resources(environ),
                                            instance=instance, raise_on_error=raise_on_error,
                                            full_refresh=full_refresh)


def writeback(environ: dict[str, str], instance=None, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return local_runs.materialize_writes(WRITEBACK_KEY, environ=environ, resources=fast_resources(environ),
                                         instance=instance, raise_on_error=raise_on_error)


def mcf(environ: dict[str, str], instance=None, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return local_runs.materialize_writes(MCF_KEY, environ=environ, resources=fast_resources(environ),
                                         instance=instance, raise_on_error=raise_on_error)


def query(db: warehouse.Location, sql: str, params=None) -> list[tuple]:
    """A read of the warehouse: a DuckDB file's path, or a DuckLake (Settings.warehouse)."""
    with warehouse.connect(db, read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def raw_orders(db_path: str, account_id: str, day: date) -> list[dict]:
    """Every order in the raw records of one partition, in page order."""
    with duckdb.connect(db_path, read_only=True) as conn:
        records = conn.execute(
            "select order_json from raw.order_records where account_id = ? and partition_date = ? "
            "order by page_number, record_index", [account_id, day]).fetchall()
    return [json.loads(record) for (record,) in records]


def load_pages(db: str, account_id: str, day: date, pages: list[dict]) -> None:
    """Synthetic searchOrders pages straight into the raw tables, as the raw asset would load them."""
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    rows = [(account_id, day, n, "2026-01-01", "test", json.dumps({"synthetic": True}), f"req-{n}",
             datetime(2026, 10, 2, tzinfo=UTC), len(p["orders"]), False, json.dumps(p))
            for n, p in enumerate(pages, start=1)]
    with warehouse.connect(db) as conn:
        replace_partition(conn, account_id, day, rows)
