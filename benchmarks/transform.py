"""raw -> staging -> marts for many orders, against DuckDB alone and a hand-written pandas baseline.

    python -m benchmarks.transform [--orders 1000000] [--days 7] [--history-days 365]

Generates raw pages for `--orders` orders (about 2.5 items each) over `--days` daily partitions, loads them through
the raw asset's own load step (pages + per-order records, timed as `raw_load_s`), times one dbt build over the
whole range (Dagster's single-run backfill), and prints one JSON object. The build is timed `--repeat` times from
the same raw state, each with a full parse as in every Dagster run, side by side with the floor; `wall_s` and
`floor_s` are the medians, and every sample is printed.

- `floor_s`: DuckDB alone, from the same raw records, parsing them with the base model's own structure and
  flattening orders, items, addresses, packages and tax registrations into in-memory tables (`floor_narrow_s`:
  ids, status, totals and item keys only);
- `pandas_s`: json.loads + pandas.json_normalize on a sample of the pages, latest version per order, both tables
  written as CSV, scaled to all pages;
- `incremental_ratio`: one day re-materialized with `--history-days` of history, over the same with 1 day;
- `per_partition_overhead_s`: one dbt run of a 10-order partition;
- with `--ducklake`: the same raw pages loaded into a DuckLake (the production profile: a throwaway PostgreSQL
  catalog and moto's S3 on loopback) and the same dbt build timed there, each build right after the file's;
  `ducklake_wall_s` (median), its samples, `ducklake_raw_load_s` and `ducklake_ratio` (DuckLake over the file).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import yaml

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.dbt_project import DBT_PROJECT_DIR
from amazon_orders_pipeline.emulator.seller import SyntheticSeller
from amazon_orders_pipeline.local_services.production import production_services
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.testing.dbt_runs import drop_built, run_dbt
from amazon_orders_pipeline.warehouse import PageRow, replace_partition

FIRST_DAY = date(2026, 1, 1)
PAGE_SIZE = 100
# The marts the DuckLake build is checked against the file's by: fixed statements.
MART_COUNTS = ("select count(*) from main.orders", "select count(*) from main.order_items")
FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def template_orders(n: int = 4000) -> list[dict]:
    """Realistic v2026 orders from the emulator's seller, as of when they are all finished, mixed so that an
    order has about 2.5 items: every multi-line order, and one single-line order for every nine of those."""
    seller = SyntheticSeller(seed=5, orders_per_day=n)
    histories = seller.orders_created_on("bench", date(2025, 6, 1))
    late = datetime(2025, 6, 20, tzinfo=UTC)
    multi = [h for h in histories if len(h.lines) > 1]
    single = [h for h in histories if len(h.lines) == 1][: len(multi) // 9]
    return [h.to_api(late) for h in multi + single]


def day_pages(templates: list[dict], day: date, orders: int, serial: int) -> Iterator[str]:
    """The searchOrders pages of one day: `orders` orders, ids unique per (serial, day, index)."""
    stamp = f"{day.isoformat()}T12:00:00Z"
    for start in range(0, orders, PAGE_SIZE):
        batch = []
        for k in range(start, min(start + PAGE_SIZE, orders)):
            order = dict(templates[k % len(templates)])
            order["orderId"] = f"{serial % 1000:03d}-{day.toordinal() % 10_000_000:07d}-{k:07d}"
            order["lastUpdatedTime"] = stamp
            batch.append(order)
        yield json.dumps({"orders": batch})


def load_days(db: warehouse.Location, templates: list[dict], days: list[date], per_day: int,
              serial: int = 0) -> tuple[int, float]:
    """Load each day through the raw asset's own load step, streaming.

    Returns (pages, seconds spent in the load step, generating the pages excluded)."""
    pages = 0
    generating = 0.0  # time spent making pages inside the load step's loop, which is not loading

    def rows(day: date):
        nonlocal pages, generating
        started = time.monotonic()
        for n, text in enumerate(day_pages(templates, day, per_day, serial), start=1):
            pages += 1
            generating += time.monotonic() - started
            yield PageRow("bench", day, n, "2026-01-01", "bench", "{}", None, FETCHED_AT,
                          min(PAGE_SIZE, per_day - (n - 1) * PAGE_SIZE), False, text)
            started = time.monotonic()

    total = 0.0
    with warehouse.connect(db) as conn:
        for day in days:
            started = time.monotonic()
            replace_partition(conn, "bench", day, rows(day))
            total += time.monotonic() - started
    return pages, total - generating


def order_structure() -> str:
    """The JSON structure the base model parses each record with (dbt_project.yml's `order_structure` var)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return json.dumps(project["vars"]["order_structure"])


# DuckDB alone, from the same raw records, to in-memory tables: `floor_s` extracts the same fields as the marts;
# `floor_narrow_s` only ids, status, totals and item keys (the kind of figure quoted for "flattening the pages").
FLOOR_FULL = [
    "create temp table parsed as select json_transform(order_json, ?) as o from raw.order_records",
    """create temp table flat_orders as
       select o.orderId, unnest(o.salesChannel), try_cast(o.createdTime as timestamptz) as purchased_at,
              try_cast(o.lastUpdatedTime as timestamptz) as last_updated_at, o.fulfillment.fulfillmentStatus,
              o.fulfillment.fulfilledBy, o.fulfillment.fulfillmentServiceLevel, o.programs,
              try_cast(o.proceeds.grandTotal.amount as decimal(18, 4)) as total, o.proceeds.grandTotal.currencyCode,
              try_cast(o.fulfillment.shipByWindow.earliestDateTime as timestamptz) as ship_by_earliest_at,
              try_cast(o.fulfillment.shipByWindow.latestDateTime as timestamptz) as ship_by_latest_at,
              try_cast(o.fulfillment.deliverByWindow.earliestDateTime as timestamptz) as deliver_by_earliest_at,
              try_cast(o.fulfillment.deliverByWindow.latestDateTime as timestamptz) as deliver_by_latest_at
       from parsed""",
    """create temp table flat_addresses as
       select o.orderId, unnest(o.recipient.deliveryAddress), unnest(o.buyer) from parsed""",
    """create temp table flat_items as
       select o.orderId, i.orderItemId, i.product.sellerSku, i.product.asin, i.product.title,
              cast(i.quantityOrdered as integer) as quantity,
              try_cast(i.fulfillment.quantityFulfilled as integer) as quantity_fulfilled,
              try_cast(i.product.price.unitPrice.amount as decimal(18, 4)) as unit_price,
              try_cast(i.proceeds.proceedsTotal.amount as decimal(18, 4)) as proceeds,
              list_sum(list_transform(list_filter(i.proceeds.breakdowns, lambda b: b.type = 'TAX'),
                                      lambda b: try_cast(b.subtotal.amount as decimal(18, 4)))) as tax,
              i.tax.taxCollections[1].model as tax_collection_model,
              i.tax.taxCollections[1].responsibleParty as tax_responsible_party,
              try_cast(i.expense.pointsCost.pointsGranted.pointsNumber as integer) as points_granted
       from (select o, unnest(o.orderItems) as i from parsed)""",
    # The marts of the sections beyond the basics: packages (and what each holds), tax registrations.
    """create temp table flat_packages as
       select orderId, p.packageReferenceId, p.carrier, p.trackingNumber, p.packageStatus.status,
              try_cast(p.shipTime as timestamptz) as shipped_at, p.packageItems
       from (select o.orderId, unnest(o.packages) as p from parsed)""",
    """create temp table flat_registrations as
       select orderId, unnest(r) from (select o.orderId, unnest(o.tax.taxRegistrations) as r from parsed)""",
]
NARROW_STRUCTURE = json.dumps({
    "orderId": "VARCHAR", "lastUpdatedTime": "VARCHAR", "fulfillment": {"fulfillmentStatus": "VARCHAR"},
    "proceeds": {"grandTotal": {"amount": "VARCHAR", "currencyCode": "VARCHAR"}},
    "orderItems": [{"orderItemId": "VARCHAR", "quantityOrdered": "VARCHAR", "product": {"sellerSku": "VARCHAR",
                    "price": {"unitPrice": {"amount": "VARCHAR"}}}}]})
FLOOR_NARROW = [
    "create temp table parsed as select json_transform(order_json, ?) as o from raw.order_records",
    """create temp table flat_orders as
       select o.orderId, try_cast(o.lastUpdatedTime as timestamptz), o.fulfillment.fulfillmentStatus,
              try_cast(o.proceeds.grandTotal.amount as decimal(18, 4)), o.proceeds.grandTotal.currencyCode
       from parsed""",
    """create temp table flat_items as
       select o.orderId, i.orderItemId, i.product.sellerSku, cast(i.quantityOrdered as integer),
              try_cast(i.product.price.unitPrice.amount as decimal(18, 4))
       from (select o, unnest(o.orderItems) as i from parsed)""",
]


def floor(db: str, statements: list[str], structure: str) -> float:
    """DuckDB alone, same memory limit as dbt's profile: the statements' wall time."""
    with duckdb.connect(db, read_only=True) as conn:
        conn.execute("set memory_limit = '1GB'")
        conn.execute("set preserve_insertion_order = false")
        conn.execute("set enable_progress_bar = false")
        started = time.monotonic()
        conn.execute(statements[0], [structure])
        for statement in statements[1:]:
            conn.execute(statement)
        return time.monotonic() - started


PANDAS_BASELINE = """
import json, sys, time, pandas as pd
pages_file, workdir = sys.argv[1], sys.argv[2]
with open(pages_file) as f:
    pages = f.read().splitlines()
t = time.monotonic()
orders = [o for p in pages for o in json.loads(p)["orders"]]
o = pd.json_normalize(orders, sep="_")
o = o.sort_values("lastUpdatedTime").drop_duplicates("orderId", keep="last")
keep = set(o["orderId"])
# Items flattened to one dict each before json_normalize: about 4x faster than record_path= with meta=.
items = pd.json_normalize([{**i, "orderId": x["orderId"]} for x in orders if x["orderId"] in keep
                           for i in x["orderItems"]], sep="_")
o = o.drop(columns=["orderItems"])
o["proceeds_grandTotal_amount"] = pd.to_numeric(o.get("proceeds_grandTotal_amount"), errors="coerce")
o.to_csv(workdir + "/orders.csv", index=False)
items.to_csv(workdir + "/items.csv", index=False)
hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")) / 1024
print(json.dumps([time.monotonic() - t, hwm, len(pages)]))
"""


def sample_pages(db: str, sample: float, path: Path) -> None:
    """A sample of the raw pages, one JSON text per line, for the pandas baseline to read as a file: its process
    then holds only what pandas needs, and its peak memory is pandas' own."""
    with duckdb.connect(db, read_only=True) as conn, path.open("w") as out:
        conn.execute("set enable_progress_bar = false")
        # Each sampled page put together again from its order records (raw.order_pages names its landed file).
        result = conn.execute("select '{\"orders\":[' || string_agg(order_json, ',' order by record_index) || ']}' "
                              "from raw.order_records where hash(partition_date, page_number) % 10000 < ? "
                              "group by account_id, partition_date, page_number", [round(sample * 10000)])
        while batch := result.fetchmany(256):
            out.writelines(page.replace("\n", " ") + "\n" for (page,) in batch)


def pandas_baseline(db: str, sample: float, workdir: Path, total_pages: int) -> tuple[float, float]:
    """json.loads + json_normalize on a sample of pages, scaled by the pages it actually saw."""
    pages_file = workdir / "pandas_pages.jsonl"
    sample_pages(db, sample, pages_file)
    proc = subprocess.run([sys.executable, "-c", PANDAS_BASELINE, str(pages_file), str(workdir)],
                          capture_output=True, text=True)
    pages_file.unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"pandas baseline failed:\n{proc.stderr[-2000:]}")
    seconds, peak_mb, seen = json.loads(proc.stdout.strip().splitlines()[-1])
    return seconds * total_pages / max(seen, 1), peak_mb


def rematerialize_last_day(work: Path, name: str, templates: list[dict], history_days: int, per_day: int) -> float:
    """Build `history_days` days, then time one more run of the last day alone."""
    db = str(work / f"{name}.duckdb")
    days = [FIRST_DAY + timedelta(days=i) for i in range(history_days)]
    load_days(db, templates, days, per_day, serial=history_days)
    run_dbt(db, days[0], days[-1] + timedelta(days=1))
    wall, _ = run_dbt(db, days[-1], days[-1] + timedelta(days=1))
    Path(db).unlink()
    return wall


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--pandas-sample", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3,
                        help="dbt builds and floors timed side by side, from the same raw state; medians reported")
    parser.add_argument("--history-days", type=int, default=365, help="history for incremental_ratio (0: skip)")
    parser.add_argument("--history-orders-per-day", type=int, default=1000)
    parser.add_argument("--ducklake", action="store_true",
                        help="also time the build on DuckLake (PostgreSQL catalog, S3 data), beside the file's")
    args = parser.parse_args(argv)
    templates = template_orders()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as services:
        work = Path(tmp)
        db = str(work / "bench.duckdb")
        days = [FIRST_DAY + timedelta(days=i) for i in range(args.days)]
        pages, load_s = load_days(db, templates, days, args.orders // args.days)
        lake_db, lake_walls, lake_load_s = None, [], 0.0
        if args.ducklake:
            lake_db = Settings.from_env(services.enter_context(production_services()).lake_env("bench")).lake
            _, lake_load_s = load_days(lake_db, templates, days, args.orders // args.days)
        walls, peaks, floors = [], [], []
        for n in range(args.repeat):
            if n:
                drop_built(db)
            os.sync()  # the load's (or the last build's) writes are not the next build's work
            wall, peak = run_dbt(db, days[0], days[-1] + timedelta(days=1))
            walls.append(wall)
            peaks.append(peak)
            floors.append(floor(db, FLOOR_FULL, order_structure()))
            print(f"build {n + 1}: {wall:.2f} s, floor {floors[-1]:.2f} s", file=sys.stderr, flush=True)
            if lake_db:
                if n:
                    drop_built(lake_db)
                lake_walls.append(run_dbt(lake_db, days[0], days[-1] + timedelta(days=1))[0])
                print(f"build {n + 1} on DuckLake: {lake_walls[-1]:.2f} s", file=sys.stderr, flush=True)
        if lake_db:
            with warehouse.connect(lake_db, read_only=True) as conn, duckdb.connect(db, read_only=True) as file:
                same = [conn.execute(sql).fetchone() == file.execute(sql).fetchone() for sql in MART_COUNTS]
            if not all(same):
                raise RuntimeError("the DuckLake build's marts differ from the file's")
        wall, peak, floor_s = statistics.median(walls), max(peaks), statistics.median(floors)
        with duckdb.connect(db, read_only=True) as conn:
            orders = conn.execute("select count(*) from main.orders").fetchone()[0]
            items = conn.execute("select count(*) from main.order_items").fetchone()[0]
        floor_narrow_s = floor(db, FLOOR_NARROW, NARROW_STRUCTURE)
        pandas_s, pandas_peak = pandas_baseline(db, args.pandas_sample, work, pages)
        Path(db).unlink()
        overhead = rematerialize_last_day(work, "tiny", templates, 1, 10)
        incremental = None
        if args.history_days:
            one = rematerialize_last_day(work, "one_day", templates, 1, args.history_orders_per_day)
            many = rematerialize_last_day(work, "history", templates, args.history_days, args.history_orders_per_day)
            incremental = {"incremental_ratio": round(many / one, 2), "incremental_one_day_s": round(one, 2),
                           "incremental_with_history_s": round(many, 2), "history_days": args.history_days,
                           "history_orders_per_day": args.history_orders_per_day}
    out = {
        "orders": orders, "items": items, "pages": pages, "wall_s": round(wall, 2),
        "orders_per_s": round(orders / wall), "peak_rss_mb": round(peak),
        "raw_load_s": round(load_s, 2),
        "floor_s": round(floor_s, 2), "floor_ratio": round(wall / floor_s, 2),
        "wall_samples_s": [round(w, 2) for w in walls], "floor_samples_s": [round(f, 2) for f in floors],
        "floor_narrow_s": round(floor_narrow_s, 2), "floor_narrow_ratio": round(wall / floor_narrow_s, 2),
        "pandas_s": round(pandas_s, 2), "pandas_speedup": round(pandas_s / wall, 2),
        "pandas_peak_rss_mb": round(pandas_peak), "pandas_sample": args.pandas_sample,
        "per_partition_overhead_s": round(overhead, 2),
        **(incremental or {"incremental_ratio": None}),
        **({"ducklake_wall_s": round(statistics.median(lake_walls), 2),
            "ducklake_samples_s": [round(w, 2) for w in lake_walls], "ducklake_raw_load_s": round(lake_load_s, 2),
            "ducklake_ratio": round(statistics.median(lake_walls) / wall, 2)} if lake_walls else {}),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
