"""The load benchmark's own run, small: 5 accounts (one on v0) x 2 days backfilled through `dagster dev` against one
emulator. `python -m benchmarks.load` runs 20 x 7 and records the wall time and memory; here, only what must hold."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.orders import seller_tag
from amazon_orders_pipeline.testing.load import dagster_yaml, load_accounts, ok, run_load, why_not_ok

pytestmark = pytest.mark.slow


def test_load_accounts_are_distinct_sellers_on_both_apis_and_regions():
    accounts = load_accounts(20)
    assert len({seller_tag(seller_key(emulator_refresh_token(a["id"]))) for a in accounts}) == 20
    assert sum(a["api_version"] == "v0" for a in accounts) == 4
    assert {a["region"] for a in accounts} == {"NA", "EU"} and {a["pii"] for a in accounts} == {True, False}
    assert yaml.safe_load(dagster_yaml(7))["concurrency"]["runs"]["max_concurrent_runs"] == 7
    assert yaml.safe_load(dagster_yaml(None))["concurrency"]["pools"] == {"granularity": "op", "default_limit": 1}


def test_a_backfill_of_5_accounts_and_2_days_succeeds_and_its_marts_equal_the_truth_on_both_profiles(tmp_path):
    """The load benchmark, small, on the default profile and on the production profile (DuckLake on PostgreSQL and
    S3, landing and exports in S3, the Dagster instance in PostgreSQL: dagster.production.yaml). The two `dagster
    dev` sessions run at the same time: most of each one's time is its daemon's ticks, which then overlap."""
    with ThreadPoolExecutor(2) as pool:
        on_file = pool.submit(run_load, tmp_path / "file", n_accounts=5, days=2, orders_per_day=150, speed=50,
                              timeout_s=1200)
        on_lake = pool.submit(run_load, tmp_path / "lake", n_accounts=2, days=1, orders_per_day=100, speed=50,
                              timeout_s=1200, backend="ducklake")
        result, lake_result = on_file.result(), on_lake.result()
    assert ok(result), why_not_ok(result)
    # The extract stage's single-run backfill policy: one run per day, each over the 5 accounts.
    assert result["raw_runs"] == 2 and result["failed_runs"] == 0 and result["lock_error_runs"] == 0
    assert result["v0_accounts"] == 1 and result["orders"] > 500  # 150 a day each, less the orders changed since
    assert result["most_in_flight"] >= 2
    assert result["peak_rss_mb"]["session"] > result["peak_rss_mb"]["process"] > 0
    assert result["backend"] == "duckdb"
    assert ok(lake_result), why_not_ok(lake_result)
    assert lake_result["backend"] == "ducklake" and lake_result["raw_runs"] == 1
    assert lake_result["failed_runs"] == 0 and lake_result["orders"] > 100
    assert lake_result["max_concurrent_runs"] == 8
    assert not [key for key in os.environ if key.startswith("DAGSTER_PG_")]  # the instance's settings were undone
