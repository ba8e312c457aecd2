"""The transform benchmark's own run, small, so that it cannot rot between the runs that record its figures
(`python -m benchmarks.transform --orders 1000000`). Only what must hold; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from amazon_orders_pipeline.testing.dbt_runs import drop_built

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_a_small_transform_benchmark_runs_every_measure_and_builds_every_order():
    # As its users run it: a command that prints one JSON object.
    proc = subprocess.run([sys.executable, "-m", "benchmarks.transform", "--orders", "3000", "--days", "2",
                           "--repeat", "1", "--pandas-sample", "0.5", "--history-days", "2",
                           "--history-orders-per-day", "50", "--ducklake"],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["orders"] == 3000 and out["items"] > 2 * out["orders"]  # about 2.5 items an order
    assert out["wall_samples_s"] == [out["wall_s"]] and len(out["floor_samples_s"]) == 1
    assert 0 < out["floor_s"] < out["wall_s"] and out["floor_ratio"] > 1  # figures unrounded, so no equality
    assert out["pandas_s"] > 0 and out["pandas_peak_rss_mb"] > 0 and out["peak_rss_mb"] > 0
    assert out["incremental_ratio"] > 0 and out["per_partition_overhead_s"] > 0
    # The same build on DuckLake, beside the file's (the benchmark checks that both marts hold the same rows).
    assert out["ducklake_samples_s"] == [out["ducklake_wall_s"]] and out["ducklake_raw_load_s"] > 0
    # The ratio is of the unrounded times.
    assert abs(out["ducklake_ratio"] - out["ducklake_wall_s"] / out["wall_s"]) < 0.02


def test_drop_built_leaves_only_the_raw_schema(tmp_path):
    db = str(tmp_path / "w.duckdb")
    with duckdb.connect(db) as conn:
        conn.execute("create schema raw; create table raw.order_pages (x int); insert into raw.order_pages values (1)")
        conn.execute("create schema staging; create table staging.b (x int); create view staging.v as select 1")
        conn.execute("create schema intermediate; create table intermediate.int_orders_latest (x int)")
        conn.execute("create table main.orders (x int); create table main.order_items (x int)")
    drop_built(db)
    with duckdb.connect(db) as conn:
        left = conn.execute("select table_schema, table_name from information_schema.tables").fetchall()
        assert left == [("raw", "order_pages")]
        assert conn.execute("select count(*) from raw.order_pages").fetchone()[0] == 1
