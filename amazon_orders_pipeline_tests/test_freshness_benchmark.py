"""The freshness benchmark's own run, small, so that it cannot rot between the runs that record its figures
(`python -m benchmarks.freshness`). Only what must hold; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_a_small_freshness_benchmark_loses_and_duplicates_nothing_and_notifications_are_fresher():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.freshness", "--accounts", "1", "--orders-per-day", "60",
                           "--sweep-minutes", "120", "--step-minutes", "30", "--notified-sweep-minutes", "120"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    sweeps, notes = out["sweeps"], out["notifications"]
    for figures in (sweeps, notes):
        assert figures["changes"] > 60 and figures["lost"] == 0 and figures["duplicated"] == 0
        assert figures["mismatched_accounts"] == 0 and figures["quota_factor"] >= figures["quota_factor_per_sweep"] >= 1
    assert sweeps["sweeps"] == notes["sweeps"] == 13  # every 2 hours, and the close
    assert sweeps["get_order_calls"] == 0 < notes["get_order_calls"] and notes["notifications_sent"] > 0
    # Read every 30 minutes rather than swept every 2 hours, a change is in sooner.
    assert notes["freshness_p50_s"] < sweeps["freshness_p50_s"]
    assert sweeps["cpu_s_per_sweep_round"] > 0 and notes["queue_to_mart_p95_s"] > 0
