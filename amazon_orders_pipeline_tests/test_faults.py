"""Randomized faults: under 429 storms, 5xx, slow and dropped responses, truncated bodies, revoked and expiring tokens,
every seller-day ends up in the marts exactly as the emulator's ground truth has it: nothing lost, nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.dbt_runs import run_dbt
from amazon_orders_pipeline.testing.faults import compare, distinct_sellers, run_campaign, run_seed

pytestmark = pytest.mark.slow

# CI runs this many; `python -m benchmarks.faults --seeds 500` runs more.
SEEDS = 30


def test_thirty_random_fault_mixes_lose_and_duplicate_nothing(tmp_path):
    summary = run_campaign(range(SEEDS), tmp_path)
    assert summary["failed_seeds"] == []
    assert (summary["runs"], summary["failures"], summary["lost"], summary["duplicated"], summary["extra"],
            summary["mismatched"]) == (SEEDS, 0, 0, 0, 0, 0)
    # The faults really happened, and the expiring-token path was taken.
    assert summary["faults_served"] > 10 * SEEDS
    # How many jumps force a restart depends on the day's data (a window of one page has no token to refuse, and a
    # later failure hides a restart behind a resumed run): more than 3 before 2026-11-28, 2 of 13 on that day.
    assert summary["clock_jumps"] > 5 and summary["restarted_windows"] >= 1
    assert summary["orders"] > 150 * SEEDS * 0.6


def test_the_comparison_notices_a_lost_order_and_a_changed_total(tmp_path):
    """Guards the campaign's own yardstick: the same comparison fails when the marts lose or alter a row."""
    day = datetime.now(UTC).date() - timedelta(days=6)
    db = str(tmp_path / "w.duckdb")
    with warehouse.connect(db) as conn:
        outcome = run_seed(4, distinct_sellers([4])[4], day, LocalStore(tmp_path / "landing"), conn)
    run_dbt(db, day, day + timedelta(days=1))
    with duckdb.connect(db) as conn:
        assert compare(conn, outcome) == {"failed": False, "lost": 0, "extra": 0, "duplicated": 0, "mismatched": 0}
        first, second = [r[0] for r in conn.execute(
            "select order_id from main.orders where order_total_amount is not null order by 1 limit 2").fetchall()]
        conn.execute("delete from main.orders where order_id = ?", [first])
        conn.execute("update main.orders set order_total_amount = order_total_amount + 0.01 where order_id = ?",
                     [second])
        result = compare(conn, outcome)
    assert result["failed"] and result["lost"] == 1 and result["mismatched"] >= 1
