"""In-process materializations for the demo, tests and benchmarks: raw partitions, then one dbt run per range."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

import dagster as dg

from amazon_orders_pipeline.assets.raw import ORDER_PAGES_KEY
from amazon_orders_pipeline.definitions import build_assets, build_checks
from amazon_orders_pipeline.resources import build_resources

# Progress lines (INFO) on the console, not every engine event.
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def materialize_raw(day: date, account_id: str, *, environ: Mapping[str, str] = os.environ,
                    resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                    raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    assets = build_assets(environ)
    key = dg.MultiPartitionKey({"date": day.isoformat(), "account": account_id})
    return dg.materialize(assets, selection=[ORDER_PAGES_KEY], partition_key=key,
                          resources=resources or build_resources(environ),
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config=QUIET)


def materialize_transform(first: date, last: date, *, environ: Mapping[str, str] = os.environ,
                          resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                          raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """Every dbt model and check for the days [first, last], as one run (the single-run backfill policy)."""
    assets = build_assets(environ)
    dbt_keys = [k for a in assets for k in a.keys if k != ORDER_PAGES_KEY]
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
    return dg.materialize(assets + build_checks(), selection=dbt_keys, tags=tags,
                          resources=resources or build_resources(environ),
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config=QUIET)
