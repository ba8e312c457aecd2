"""raw -> staging -> marts for many orders, against DuckDB alone and a hand-written pandas baseline.

    python -m benchmarks.transform [--orders 1000000] [--days 7]

Generates raw pages for `--orders` orders (about 2.5 items each) over `--days` daily partitions, times one dbt
run over the whole range (Dagster's single-run backfill), and prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from amazon_orders_pipeline.assets.dbt import DBT_PROJECT_DIR, dbt_build_args
from amazon_orders_pipeline.emulator.seller import SyntheticSeller
from amazon_orders_pipeline.warehouse import ensure_raw_schema

FIRST_DAY = date(2026, 1, 1)


def template_orders(n: int = 2000) -> list[dict]:
    """Realistic v2026 orders from the emulator's seller, as of when they are all finished."""
    seller = SyntheticSeller(seed=5, orders_per_day=n)
    histories = seller.orders_created_on("bench", date(2025, 6, 1))
    late = datetime(2025, 6, 20, tzinfo=UTC)
    return [h.to_api(late) for h in histories]


def write_pages(path: Path, orders: int, days: int) -> int:
    """NDJSON, one raw.order_pages row per line; order ids made unique per copy. Returns the number of pages."""
    templates = template_orders()
    per_day = orders // days
    pages = 0
    with path.open("w") as out:
        for d in range(days):
            day = FIRST_DAY + timedelta(days=d)
            stamp = f"{day.isoformat()}T12:00:00Z"
            for start in range(0, per_day, 100):
                batch = []
                for k in range(start, min(start + 100, per_day)):
                    order = dict(templates[k % len(templates)])
                    order["orderId"] = f"{100 + d:03d}-{k // 10_000_000:07d}-{k % 10_000_000:07d}"
                    order["lastUpdatedTime"] = stamp
                    batch.append(order)
                pages += 1
                out.write(json.dumps({
                    "account_id": "bench", "partition_date": day.isoformat(), "page_number": start // 100 + 1,
                    "api_version": "2026-01-01", "attempt_id": "bench", "request_params": {},
                    "request_id": None, "fetched_at": "2026-01-01T00:00:00Z", "order_count": len(batch),
                    "is_redacted": False, "page": json.dumps({"orders": batch})}) + "\n")
    return pages


def load_raw(db: str, ndjson: Path) -> None:
    with duckdb.connect(db) as conn:
        ensure_raw_schema(conn)
        conn.execute("insert into raw.order_pages select account_id, partition_date, page_number, api_version, "
                     "attempt_id, request_params, request_id, fetched_at, order_count, is_redacted, page "
                     "from read_json(?, format='newline_delimited', columns={account_id: 'VARCHAR', "
                     "partition_date: 'DATE', page_number: 'INTEGER', api_version: 'VARCHAR', attempt_id: 'VARCHAR',"
                     " request_params: 'JSON', request_id: 'VARCHAR', fetched_at: 'TIMESTAMPTZ', "
                     "order_count: 'INTEGER', is_redacted: 'BOOLEAN', page: 'VARCHAR'}, maximum_object_size=100000000)",
                     [str(ndjson)])


def run_dbt(db: str, first: date, end: date) -> tuple[float, float]:
    """One dbt build over [first, end): wall seconds and the dbt process's peak RSS in MB."""
    env = {**os.environ, "DBT_DUCKDB_PATH": db}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "dbt"), *dbt_build_args(first, end),
                           "--profiles-dir", str(DBT_PROJECT_DIR), "--quiet"],
                          cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"dbt build failed:\n{proc.stdout[-3000:]}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return wall, peak / 1024


def floor(db: str) -> float:
    """DuckDB alone: unnest every page's orders and items into an in-memory table."""
    started = time.monotonic()
    with duckdb.connect(db, read_only=True) as conn:
        conn.execute("set memory_limit = '1GB'")
        conn.execute("""
            create temp table flat as
            with o as (select unnest(cast(json_extract(page, '$.orders') as json[])) as j from raw.order_pages)
            select j ->> '$.orderId' as order_id, j ->> '$.lastUpdatedTime' as last_updated_time,
                   try_cast(j ->> '$.proceeds.grandTotal.amount' as decimal(18, 4)) as total,
                   unnest(cast(json_extract(j, '$.orderItems') as json[])) ->> '$.orderItemId' as item_id
            from o""")
    return time.monotonic() - started


def pandas_baseline(db: str, sample: float, workdir: Path) -> tuple[float, float]:
    """json.loads + json_normalize on a sample of pages, latest version per order, both tables written."""
    code = f"""
import json, resource, time, duckdb, pandas as pd
with duckdb.connect({db!r}, read_only=True) as c:
    pages = [p for (p,) in c.execute(
        "select page from raw.order_pages using sample {sample * 100}% (bernoulli, 7)").fetchall()]
t = time.monotonic()
orders = [o for p in pages for o in json.loads(p)["orders"]]
o = pd.json_normalize(orders, sep="_")
o = o.sort_values("lastUpdatedTime").drop_duplicates("orderId", keep="last")
keep = set(o["orderId"])
items = pd.json_normalize([o2 for o2 in orders if o2["orderId"] in keep], record_path="orderItems", meta=["orderId"],
                          sep="_")
o = o.drop(columns=["orderItems"])
o["proceeds_grandTotal_amount"] = pd.to_numeric(o.get("proceeds_grandTotal_amount"), errors="coerce")
o.to_csv({str(workdir / 'orders.csv')!r}, index=False); items.to_csv({str(workdir / 'items.csv')!r}, index=False)
print(json.dumps([time.monotonic() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(pages)]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pandas baseline failed:\n{proc.stderr[-2000:]}")
    out = proc.stdout
    seconds, peak_mb, _ = json.loads(out.strip().splitlines()[-1])
    return seconds / sample, peak_mb


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--pandas-sample", type=float, default=0.1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = str(work / "bench.duckdb")
        pages = write_pages(work / "pages.ndjson", args.orders, args.days)
        load_raw(db, work / "pages.ndjson")
        (work / "pages.ndjson").unlink()
        end = FIRST_DAY + timedelta(days=args.days)
        wall, peak = run_dbt(db, FIRST_DAY, end)
        with duckdb.connect(db, read_only=True) as conn:
            orders = conn.execute("select count(*) from main.orders").fetchone()[0]
            items = conn.execute("select count(*) from main.order_items").fetchone()[0]
        floor_s = floor(db)
        # One tiny partition on top of all that: the fixed cost of a run.
        tiny_wall, _ = run_dbt(db, end, end + timedelta(days=1))
        pandas_s, pandas_peak = pandas_baseline(db, args.pandas_sample, work)
    out = {
        "orders": orders, "items": items, "pages": pages, "wall_s": round(wall, 2),
        "orders_per_s": round(orders / wall), "peak_rss_mb": round(peak),
        "floor_s": round(floor_s, 2), "floor_ratio": round(wall / floor_s, 2),
        "pandas_s": round(pandas_s, 2), "pandas_speedup": round(pandas_s / wall, 2),
        "pandas_peak_rss_mb": round(pandas_peak), "pandas_sample": args.pandas_sample,
        "per_partition_overhead_s": round(tiny_wall, 2),
        "incremental_ratio": None,  # not measured yet: needs 365 days of history
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
