"""The history backfill behind `python -m benchmarks.backfill` (its docstring says what it runs and prints): the
emulator and the pipeline each in a process of their own, then the marts against the seller's orders."""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.state import EmulatorState
from amazon_orders_pipeline.testing.dagster_dev import rss_mb, session_processes
from amazon_orders_pipeline.testing.emulator_process import EmulatorProcess
from amazon_orders_pipeline.testing.env import emulator_env

ACCOUNT = "history-us"
MARKETPLACES = ["ATVPDKIKX0DER"]
# The synthetic seller places half of its orders on Amazon.com (emulator/seller.py), so the emulator makes twice as
# many orders a day for the US account to have the asked-for number.
US_SHARE = 0.5
# searchOrders at Amazon's documented quota: a burst of 20 pages, then one every 1 / 0.0056 s; 100 orders a page.
SEARCH_ORDERS_RATE, SEARCH_ORDERS_BURST, PAGE_SIZE = 0.0056, 20, 100
SEED = 17


def start_emulator(orders_per_day: int, processing_s: float, speed: float, report_workers: int) -> EmulatorProcess:
    return EmulatorProcess(speed=speed, seed=SEED, orders_per_day=round(orders_per_day / US_SHARE),
                           report_processing_s=processing_s * speed, report_workers=report_workers).start()


def cpu_s(pid: int) -> float:
    """The CPU time so far (user + system) of a live process and its live children (the emulator's report
    workers), from /proc/<pid>/stat."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_pipeline(env: dict[str, str], first: date, last: date, log: Path) -> tuple[int, float, float]:
    """The history CLI in a session of its own; (exit code, wall seconds, peak RSS of the session in MB)."""
    peak = [0.0]
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "amazon_orders_pipeline", "history", "--start", str(first),
                                 "--end", str(last), "--no-exports"], env={**os.environ, **env}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                peak[0] = max(peak[0], sum(rss_mb(pid) for pid in session_processes(proc.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        done.set()
        sampler.join()
    return code, time.monotonic() - started, peak[0]


def _truth_chunk(orders_per_day: int, first: date, days: int, now: datetime) -> tuple[list[str], int]:
    """The seller's order ids last updated in `days` days from `first` (as of `now`), and the searchOrders pages
    those days' windows would take."""
    state = EmulatorState(seed=SEED, orders_per_day=round(orders_per_day / US_SHARE))
    seller = seller_key(emulator_refresh_token(ACCOUNT))
    ids, pages = [], 0
    for d in range(days):
        start = datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=d)
        # As the orders truly are: the reports read them so, while the search index lags behind.
        day_ids = [o.order_id for o in state.true_window_orders(seller, start, start + timedelta(days=1), now,
                                                                marketplaces=set(MARKETPLACES))]
        pages += max(1, math.ceil(len(day_ids) / PAGE_SIZE))
        ids.extend(day_ids)
    return ids, pages


def compare(db: str, orders_per_day: int, first: date, last: date) -> dict:
    """Order ids in the marts against the seller's orders last updated in [first, last] (rebuilt from the same seed,
    30 days at a time in two processes): lost, extra and duplicated. Orders updated again after `last` are in no
    report of the range (the daily runs bring them), so they are left out on both sides."""
    now = datetime.now(UTC)
    chunks = [(first + timedelta(days=n), min(30, (last - first).days + 1 - n))
              for n in range(0, (last - first).days + 1, 30)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        later = pool.submit(_truth_chunk, orders_per_day, last + timedelta(days=1), (now.date() - last).days + 1,
                            now)
        results = list(pool.map(_truth_chunk, *zip(*[(orders_per_day, f, n, now) for f, n in chunks], strict=True)))
        moved = set(later.result()[0])
    truth = {i for ids, _ in results for i in ids} - moved
    pages = sum(p for _, p in results)
    with duckdb.connect(db, read_only=True) as conn:
        rows = conn.execute("select order_id from main.orders where account_id = ?", [ACCOUNT]).fetchall()
        duplicated = conn.execute(
            "select (select count(*) - count(distinct order_id) from main.orders) + "
            "(select count(*) - count(distinct (order_id, order_item_id)) from main.order_items)").fetchone()[0]
    got = {r[0] for r in rows} - moved
    return {"orders": len(truth), "lost": len(truth - got), "extra": len(got - truth), "duplicated": duplicated,
            "search_orders_pages": pages}


def run_backfill(workdir: Path, days: int, orders_per_day: int, processing_s: float = 60.0,
                 speed: float = 1.0, report_workers: int = 2) -> dict:
    accounts = workdir / "accounts.yaml"
    accounts.write_text(f"accounts:\n  - id: {ACCOUNT}\n    region: NA\n    marketplace_ids: {MARKETPLACES}\n")
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    emulator = start_emulator(orders_per_day, processing_s, speed, report_workers)
    url = emulator.url
    try:
        env = emulator_env(url, workdir, accounts, partitions_start=first.isoformat())
        emulator_cpu = cpu_s(emulator.pid)
        children_cpu = _children_cpu_s()
        code, wall, peak = run_pipeline(env, first, last, workdir / "pipeline.log")
        # The history command's CPU (its dbt included): the children this process has waited for, since.
        pipeline_cpu = _children_cpu_s() - children_cpu
        emulator_cpu = cpu_s(emulator.pid) - emulator_cpu
        reports = int(_stat(url, "createReport.calls"))
    finally:
        emulator.stop()
    checked = compare(env["DUCKDB_PATH"], orders_per_day, first, last) if code == 0 else {}
    pages = checked.get("search_orders_pages", 0)
    bound = max(0, pages - SEARCH_ORDERS_BURST) / SEARCH_ORDERS_RATE
    return {
        "days": days, "orders_per_day": orders_per_day, "report_processing_s": processing_s,
        "emulator_report_workers": report_workers,
        "exit_code": code, "orders": checked.get("orders"), "reports": reports, "wall_s": round(wall, 1),
        "search_orders_pages": pages, "search_orders_bound_s": round(bound),
        "speedup": round(bound / wall, 1) if wall else None, "peak_rss_mb": round(peak),
        "pipeline_cpu_s": round(pipeline_cpu, 1), "emulator_cpu_s": round(emulator_cpu, 1),
        "lost": checked.get("lost"), "extra": checked.get("extra"), "duplicated": checked.get("duplicated"),
        "benchmark_self_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "log_tail": None if code == 0 else (workdir / "pipeline.log").read_text(errors="replace")[-2000:],
    }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stat(url: str, name: str) -> float:
    import requests

    return requests.get(f"{url}/_emulator/stats", timeout=10).json().get(name, 0)


def ok(result: dict) -> bool:
    return result["exit_code"] == 0 and result["lost"] == 0 and result["duplicated"] == 0 and result["extra"] == 0
