"""The money benchmark behind `python -m benchmarks.finances` (its docstring says what it runs and prints): the
emulator in a process of its own, one US account's posted days read, landed and loaded as the pipeline does, the
settlements fetched, dbt built; then the warehouse against the seller's money rebuilt from the seed."""

from __future__ import annotations

import math
import multiprocessing
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.finances import Ledger
from amazon_orders_pipeline.emulator.state import EmulatorState
from amazon_orders_pipeline.finances.landing import READ_AGES, new_read_id, read_day
from amazon_orders_pipeline.finances.raw import load_day
from amazon_orders_pipeline.finances.settlements import fetch_settlements, load_settlements
from amazon_orders_pipeline.resources import SpApiResource
from amazon_orders_pipeline.sp_api.finances import OPERATION
from amazon_orders_pipeline.sp_api.rate_limit import USAGE_PLANS
from amazon_orders_pipeline.sp_api.reports import ReportsClient
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.backfill import US_SHARE, cpu_s
from amazon_orders_pipeline.testing.dbt_runs import run_dbt
from amazon_orders_pipeline.testing.emulator_process import EmulatorProcess

ACCOUNT = "money-us"
MARKETPLACE = "ATVPDKIKX0DER"
SEED = 23
LAG_DAYS = 3  # the newest posted day read is this many days old (READ_AGES' first read)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_all(url: str, workdir: Path, days: list[date], speed: float,
             on_read_done: Callable[[datetime], object] = lambda at: None) -> dict:
    """Every posted day read, then every one loaded (as a backfill's single run does: its reading step, then its
    loading step), one account, under listTransactions' quota at `speed`. `on_read_done` hears when the reading
    ended."""
    accounts = workdir / "accounts.yaml"
    accounts.write_text(f"accounts:\n  - id: {ACCOUNT}\n    region: NA\n    marketplace_ids: [{MARKETPLACE}]\n")
    resource_ = SpApiResource(accounts_file=str(accounts), endpoint=url, lwa_token_url=f"{url}/auth/o2/token")
    account = resource_.accounts()[ACCOUNT]
    rate, burst = USAGE_PLANS[OPERATION]
    client = resource_.client_for(account, usage_plans={OPERATION: (rate * speed, burst)})
    store, db = LocalStore(workdir / "landing"), str(workdir / "warehouse.duckdb")

    def transaction(work, what):
        with warehouse.connect(db) as conn:
            return work(conn)

    started = time.monotonic()
    reads = [read_day(client, store, ACCOUNT, account.marketplace_ids, day, new_read_id(client.now(), "bench"))
             for day in days]
    read_s = time.monotonic() - started
    on_read_done(datetime.now(UTC))
    for day in days:
        load_day(store, ACCOUNT, day, transaction)
    load_s = time.monotonic() - started - read_s
    calls = client.stats.calls  # listTransactions only, before the settlements' Reports calls
    fetched = fetch_settlements(ReportsClient(client), store, ACCOUNT, client.now())
    with warehouse.connect(db) as conn:
        load_settlements(conn, store, ACCOUNT)
    return {"reads": reads, "read_s": read_s, "load_s": load_s, "calls": calls,
            "settlements_listed": fetched.listed, "db": db}


def truth(orders_per_day: int, days: list[date], as_of: datetime) -> dict:
    """The seller's transactions posted in the days and listable at `as_of`, and its shipped orders among them."""
    state = EmulatorState(seed=SEED, orders_per_day=orders_per_day)
    ledger = Ledger(state)
    seller = seller_key(emulator_refresh_token(ACCOUNT))
    start = datetime.combine(days[0], datetime.min.time(), UTC)
    end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), UTC)
    ids, shipped = set(), set()
    for n in range((end - start).days):
        day_start = start + timedelta(days=n)
        for p in ledger.posted_in(seller, day_start, day_start + timedelta(days=1)):
            if p.marketplace_id == MARKETPLACE and p.listable_at <= as_of:
                ids.add(p.transaction_id)
                if p.transaction_type == "Shipment":
                    shipped.add(p.order_id)
    return {"ids": ids, "shipped": shipped}


def run_money(workdir: Path, days: int, orders_per_day: int, speed: float) -> dict:
    last = datetime.now(UTC).date() - timedelta(days=LAG_DAYS)
    posted = [last - timedelta(days=n) for n in range(days - 1, -1, -1)]
    total_per_day = round(orders_per_day / US_SHARE)
    emulator = EmulatorProcess(speed=speed, seed=SEED, orders_per_day=total_per_day).start()
    peak = [0.0]
    done = threading.Event()
    # The seller's money rebuilt from the seed takes about as long as the emulator took to serve it, so it is made
    # in a process of its own, alongside the loading, the settlements and dbt, once the reading is over.
    truths = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    expected = []
    try:
        before = cpu_s(emulator.pid)
        threading.Thread(target=lambda: [peak.__setitem__(0, max(peak[0], _peak_rss_mb()))
                                         for _ in iter(lambda: done.wait(1.0), True)], daemon=True).start()
        read = read_all(emulator.url, workdir, posted, speed, lambda at: expected.append(truths.submit(
            truth, total_per_day, posted, at - timedelta(minutes=1))))
        emulator_cpu = cpu_s(emulator.pid) - before
    finally:
        done.set()
        emulator.stop()
    dbt_s, dbt_peak = run_dbt(read["db"], posted[0], posted[-1] + timedelta(days=1))
    expected = expected[0].result()
    truths.shutdown()
    with duckdb.connect(read["db"], read_only=True) as conn:
        got = [r[0] for r in conn.execute("select transaction_id from staging.stg_amazon_sp_api__transactions"
                                          ).fetchall()]
        attributed = {r[0] for r in conn.execute(
            "select order_id from main.order_financials where transaction_count > refund_count").fetchall()}
        settlements, tied = conn.execute("select count(*), count(*) filter (where difference = 0) "
                                         "from main.settlements").fetchone()
    pages = sum(r.pages for r in read["reads"])
    rate, burst = USAGE_PLANS[OPERATION]
    bound = max(0, read["calls"] - burst) / (rate * speed)
    return {
        "days": days, "orders_per_day": orders_per_day, "speed": speed,
        "transactions": sum(r.transactions for r in read["reads"]), "pages": pages, "calls": read["calls"],
        "wall_s": round(read["read_s"], 1), "bound_s": round(bound, 1),
        "ratio": round(read["read_s"] / bound, 3) if bound else None,
        "load_s": round(read["load_s"], 1), "total_s": round(read["read_s"] + read["load_s"], 1),
        "dbt_s": round(dbt_s, 1), "dbt_peak_mb": round(dbt_peak),
        "settlements": settlements, "settlements_tied_out": tied,
        "orders_shipped": len(expected["shipped"]), "orders_attributed": len(expected["shipped"] & attributed),
        "lost": len(expected["ids"] - set(got)), "duplicated": len(got) - len(set(got)),
        "peak_rss_mb": round(max(peak[0], dbt_peak)), "emulator_cpu_s": round(emulator_cpu, 1),
        # The daily reading: each posted day read at each of READ_AGES, as many calls as its first read took.
        "calls_per_account_day": round(len(READ_AGES) * math.ceil(read["calls"] / days), 1),
    }


def ok(result: dict) -> bool:
    return (result["lost"] == 0 and result["duplicated"] == 0 and result["settlements_tied_out"] ==
            result["settlements"] and result["orders_attributed"] == result["orders_shipped"])
