"""The backfill benchmark's own run, small, so that it cannot rot between the runs that record its figures
(`python -m benchmarks.backfill --days 365 --orders-per-day 5000`). Only what must hold; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_a_small_backfill_benchmark_goes_through_reports_and_loses_and_duplicates_nothing():
    # As its users run it: a command that prints one JSON object. 40 days are two report windows.
    proc = subprocess.run([sys.executable, "-m", "benchmarks.backfill", "--days", "40", "--orders-per-day", "150",
                           "--report-processing-s", "2"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["reports"] == 2 and out["orders"] > 40 * 100
    assert (out["lost"], out["extra"], out["duplicated"]) == (0, 0, 0)
    # searchOrders would need a page a day at least, past its burst of 20: 20 pages at 0.0056/s.
    assert out["search_orders_pages"] >= 40 and out["search_orders_bound_s"] >= (40 - 20) / 0.0056 - 1
    assert out["speedup"] == pytest.approx(out["search_orders_bound_s"] / out["wall_s"], rel=0.01)  # rounded
    assert out["peak_rss_mb"] > 0 and out["pipeline_cpu_s"] > 0 and out["emulator_cpu_s"] > 0
