"""`make demo`'s program: it runs the last complete days on its own emulator and prints a true summary."""

from __future__ import annotations

import re

import duckdb

from amazon_orders_pipeline import demo


def test_demo_materializes_the_last_three_days_and_summarises(tmp_path, monkeypatch, capsys):
    db = tmp_path / "demo.duckdb"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUCKDB_PATH", str(db))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("ACCOUNTS_FILE", raising=False)
    monkeypatch.setenv("SP_API_DEMO_REFRESH_TOKEN", "must-be-ignored-by-the-demo")
    assert demo.main(["--days", "3", "--speed", "500"]) == 0
    out = capsys.readouterr().out
    with duckdb.connect(str(db), read_only=True) as conn:
        pages, orders, days = conn.execute(
            "select count(*), sum(order_count), count(distinct partition_date) from raw.order_pages").fetchone()
    assert days == 3 and pages > 0 and orders > 0
    assert re.search(rf"pages\s+:\s+{pages}\b", out)
    assert re.search(rf"orders\s+:\s+{orders}\b", out)
    assert str(db) in out and "500x" in out
    assert "0 failed" in out
