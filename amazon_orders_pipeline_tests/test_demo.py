"""`make demo`'s program: it runs the last complete days on its own emulator and prints a true summary."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from amazon_orders_pipeline import demo

pytestmark = pytest.mark.slow


def test_demo_materializes_the_last_three_days_and_summarises(tmp_path, monkeypatch, capsys):
    db = tmp_path / "demo.duckdb"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUCKDB_PATH", str(db))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("ACCOUNTS_FILE", raising=False)
    monkeypatch.setenv("SP_API_DEMO_NA_REFRESH_TOKEN", "must-be-ignored-by-the-demo")
    assert demo.main(["--days", "3", "--speed", "500"]) == 0
    out = capsys.readouterr().out
    with duckdb.connect(str(db), read_only=True) as conn:
        pages, orders, days = conn.execute(
            "select count(*), sum(order_count), count(distinct partition_date) from raw.order_pages").fetchone()
    assert days == 3 and pages > 0 and orders > 0
    with duckdb.connect(str(db), read_only=True) as conn:
        # Two accounts in two regions, each with its own region's marketplaces only.
        by_account = dict(conn.execute("select account_id, list(distinct marketplace_id order by marketplace_id) "
                                       "from main.orders group by all").fetchall())
    assert by_account == {"demo-na": ["ATVPDKIKX0DER"], "demo-eu": ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]}
    with duckdb.connect(str(db), read_only=True) as conn:
        marts = {"orders": conn.execute("select count(*) from main.orders").fetchone()[0],
                 "order_items": conn.execute("select count(*) from main.order_items").fetchone()[0],
                 "order_addresses": conn.execute("select count(*) from main.order_addresses").fetchone()[0]}
    assert re.search(rf"pages\s+:\s+{pages}\b", out)
    assert re.search(rf"raw orders\s+:\s+{orders}\b", out)
    for table, count in marts.items():
        assert count > 0 and re.search(rf"{table}\s+:\s+{count} rows", out)
    # The money of as many posted days, past Amazon's 48-hour listing lag, for both accounts.
    with duckdb.connect(str(db), read_only=True) as conn:
        money = dict(conn.execute("select account_id, count(*) from main.order_financials group by all").fetchall())
        fees = conn.execute("select count(*) from main.account_fees").fetchone()[0]
    assert set(money) == {"demo-na", "demo-eu"}
    assert re.search(rf"order_financials\s*:\s+{sum(money.values())} rows", out)
    assert re.search(rf"account_fees\s*:\s+{fees} rows", out)
    # The returns of the three days, some of orders older than them (the marts do not hold those).
    with duckdb.connect(str(db), read_only=True) as conn:
        returned, older = conn.execute("select count(*), count(*) filter (where not order_known) "
                                       "from main.order_returns").fetchone()
    assert returned > 0 and older > 0
    assert re.search(rf"order_returns\s*:\s+{returned} rows \(.*{older} of orders older", out)
    assert str(db) in out and "500x" in out
    assert "0 failed" in out
    # One pass of each write to Amazon over its empty inbox: their tables exist (the docs' SQL reads them).
    assert "write-back      : 0 inbox file(s), 0 shipment(s) sent, 0 refused" in out
    assert "mcf             : 0 inbox file(s), 0 fulfillment order(s) sent" in out

    # The exports: one Salesforce CSV and one ERP document file per account and day, as many Salesforce rows as the
    # summary says.
    sf_files = sorted((tmp_path / "exports" / "salesforce").glob("demo-*/*/external_order_sync.csv"))
    assert len(sf_files) == 6 and len(list((tmp_path / "exports" / "erp").glob("demo-*/*/sales_orders.jsonl"))) == 6
    sf_rows = sum(len(f.read_text().splitlines()) - 1 for f in sf_files)
    assert sf_rows == marts["orders"]  # every order changed in one of the three days, and lands in exactly one file
    assert re.search(rf"salesforce_order_export: {sf_rows} rows in 12 files", out)

    # Every SQL example in the README and the docs runs against what the demo built.
    root = Path(__file__).resolve().parents[1]
    pages = "".join(p.read_text() for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))])
    chunks = [c.strip() for block in re.findall(r"```sql\n(.*?)```", pages, re.S) for c in block.split(";")]
    statements = [c for c in chunks if any(line.strip() and not line.strip().startswith("--")
                                           for line in c.splitlines())]
    assert len(statements) >= 4
    with duckdb.connect(str(db), read_only=True) as conn:
        for sql in statements:
            conn.execute(sql).fetchall()
