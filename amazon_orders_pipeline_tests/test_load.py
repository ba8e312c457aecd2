"""The load benchmark's own run, small: 5 accounts (one on v0) x 2 days backfilled through `dagster dev` against one
emulator. `python -m benchmarks.load` runs 20 x 7 and records the wall time and memory; here, only what must hold."""

from __future__ import annotations

import pytest
import yaml

from amazon_orders_pipeline.emulator.app import seller_key
from amazon_orders_pipeline.emulator.seller import seller_tag
from amazon_orders_pipeline.resources import emulator_refresh_token
from amazon_orders_pipeline.testing.load import dagster_yaml, load_accounts, ok, run_load

pytestmark = pytest.mark.slow


def test_load_accounts_are_distinct_sellers_on_both_apis_and_regions():
    accounts = load_accounts(20)
    assert len({seller_tag(seller_key(emulator_refresh_token(a["id"]))) for a in accounts}) == 20
    assert sum(a["api_version"] == "v0" for a in accounts) == 4
    assert {a["region"] for a in accounts} == {"NA", "EU"} and {a["pii"] for a in accounts} == {True, False}
    assert yaml.safe_load(dagster_yaml(7))["concurrency"]["runs"]["max_concurrent_runs"] == 7
    assert yaml.safe_load(dagster_yaml(None))["concurrency"]["pools"] == {"granularity": "op", "default_limit": 1}


def test_a_backfill_of_5_accounts_and_2_days_succeeds_and_its_marts_equal_the_truth(tmp_path):
    result = run_load(tmp_path, n_accounts=5, days=2, orders_per_day=150, speed=50, timeout_s=1200)
    assert ok(result), result
    # The extract stage's single-run backfill policy: one run per day, each over the 5 accounts.
    assert result["raw_runs"] == 2 and result["failed_runs"] == 0 and result["lock_error_runs"] == 0
    assert result["v0_accounts"] == 1 and result["orders"] > 500  # 150 a day each, less the orders changed since
    assert result["most_in_flight"] >= 2
    assert result["peak_rss_mb"]["session"] > result["peak_rss_mb"]["process"] > 0


def test_the_load_benchmark_runs_on_the_production_profile(tmp_path):
    # DuckLake on PostgreSQL and S3, landing and exports in S3, the Dagster instance in PostgreSQL: `dagster dev`
    # with dagster.production.yaml, the backfill launched as on the file.
    result = run_load(tmp_path, n_accounts=2, days=1, orders_per_day=100, speed=50, timeout_s=900,
                      backend="ducklake")
    assert ok(result), result
    assert result["backend"] == "ducklake" and result["raw_runs"] == 1 and result["failed_runs"] == 0
    assert result["orders"] > 100 and result["max_concurrent_runs"] == 8
