"""A small run of the money benchmark (`python -m benchmarks.finances` is a thin command over the same run):
every figure it prints is there, and nothing is lost."""

from __future__ import annotations

from amazon_orders_pipeline.testing.money_benchmark import ok, run_money


def test_a_small_money_benchmark_loses_nothing_and_ties_out(tmp_path):
    result = run_money(tmp_path, days=14, orders_per_day=60, speed=100)
    assert ok(result)
    for name in ("transactions", "pages", "wall_s", "bound_s", "ratio", "settlements", "settlements_tied_out",
                 "orders_attributed", "orders_shipped", "lost", "duplicated", "peak_rss_mb", "calls_per_account_day"):
        assert result[name] is not None, name
    assert result["transactions"] > 0 and result["pages"] >= 14 and result["settlements"] > 0
    assert result["lost"] == result["duplicated"] == 0
    assert result["settlements_tied_out"] == result["settlements"]
    assert result["orders_attributed"] == result["orders_shipped"] > 0
    assert (tmp_path / "warehouse.duckdb").exists()
