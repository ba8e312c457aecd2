"""A simulated day of one account on the emulator's clock: sweeps every few minutes and, optionally, ORDER_CHANGE
notifications read through the queue and getOrder, with the search index lagging, API faults and notification
faults on; then the day's close. It drives the functions the assets call (sweep_window and extract_window,
NotificationInbox, fetch_orders, load_increments) without a Dagster run per step, so a day of many steps is cheap.
Shared by the fault test (many seeds) and `benchmarks/freshness.py`."""

from __future__ import annotations

import json
import math
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token, emulator_seller_id
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.extract.get_order import fetch_orders
from amazon_orders_pipeline.extract.increments import DEFAULT_SWEEP_OVERLAP, DEFAULT_SWEEP_SETTLE, DayLog, sweep_window
from amazon_orders_pipeline.extract.window import extract_window
from amazon_orders_pipeline.notifications.inbox import NotificationInbox
from amazon_orders_pipeline.resources import SpApiResource
from amazon_orders_pipeline.sp_api.pages import page_orders
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.truth import window_truth

PAGE_SIZE = 100
MODES = ("sweeps", "notifications")


@dataclass
class DayResult:
    account_id: str
    day: date
    sweeps: int = 0
    sweep_pages: int = 0
    least_sweep_pages: int = 0  # the order versions the sweeps fetched, each once, in whole pages
    least_pages_per_sweep: int = 0  # each sweep's versions new to the sweeps, in whole pages per sweep
    get_order_calls: int = 0
    batches: int = 0
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (order, lastUpdatedTime) -> loaded at
    changes: list[tuple[str, datetime]] = field(default_factory=list)  # every true change of the day
    cpu_s_sweeps: float = 0.0
    truth: tuple[list[dict], set[str]] = ([], set())

    def _delays(self) -> list[tuple[str, float | None]]:
        """Per change of the day: (order, emulated seconds until a version at least as new was in the raw tables,
        or None if none ever was)."""
        by_order: dict[str, list[tuple[datetime, datetime]]] = {}
        for (order_id, updated), at in self.seen.items():
            by_order.setdefault(order_id, []).append((_parse(updated), at))
        out: list[tuple[str, float | None]] = []
        for order_id, changed_at in self.changes:
            loaded = [at for updated, at in by_order.get(order_id, []) if updated >= changed_at]
            out.append((order_id, max(0.0, (min(loaded) - changed_at).total_seconds()) if loaded else None))
        return out

    def freshness(self) -> list[float]:
        return [d for _, d in self._delays() if d is not None]

    def lost(self) -> int:
        """Changes never seen, but for those of orders that changed again after the day, before its close sweep:
        the close reads the day's window, where such an order no longer is; the next day's window has it."""
        moved = self.truth[1]
        return sum(d is None and order_id not in moved for order_id, d in self._delays())


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def simulate_day(emulator: Emulator, accounts: list[Account], day: date, landing_dir: str, db: str, *,
                 sweep_every: timedelta, step: timedelta, queue=None, close_after: timedelta = timedelta(minutes=10),
                 settle: timedelta = DEFAULT_SWEEP_SETTLE, overlap: timedelta = DEFAULT_SWEEP_OVERLAP
                 ) -> list[DayResult]:
    """Run the accounts' `day` from 00:00 to its close, all accounts in each step as the schedule's sweep rounds
    and the sensor's ticks take them. `queue`: an OrderQueue (testing/notifications.py) the emulator publishes to,
    or None for sweeps only; the accounts' sellers must be subscribed to it already."""
    state, store = emulator.state, LocalStore(landing_dir)
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    close = start + timedelta(days=1)
    sp_api = SpApiResource(accounts_file="-", endpoint=emulator.url, retry_base_delay_s=0.01)
    # One client per account for the day, as a long-lived worker would have: it keeps the rates Amazon's headers
    # taught it, starting from the emulator's (a first 429 would otherwise wait for Amazon's rate).
    clients = {a.id: sp_api.client_for(a, usage_plans=state.usage_plans()) for a in accounts}
    results = {a.id: DayResult(a.id, day, changes=day_changes(state, a, start, close)) for a in accounts}
    sellers: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for account in accounts:
        sellers.update(sp_api_seller_ids(account))
    inbox = None if queue is None else NotificationInbox(queue.sqs, queue.url, store, sellers, wait_s=0)

    # One connection for the day (a connection per load would checkpoint the file each time it closes).
    conn = warehouse.connect(db)

    def connect() -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return nullcontext(conn)

    def load(account_id: str, days, now: datetime) -> None:
        for d in days:
            for window, _ in warehouse.load_increments(store, account_id, d, connect):
                for page, body in window.pages:
                    for order in page_orders(page.operation, json.loads(body)) or []:
                        results[account_id].seen.setdefault((order["orderId"], order["lastUpdatedTime"]), now)

    swept: dict[str, set[tuple[str, str]]] = {a.id: set() for a in accounts}
    now, next_sweep = start, start + sweep_every
    while now < close + close_after:
        now = min(now + step, close + close_after)
        state.clock.set(now)
        if inbox is not None and now <= close:
            emulator.backends.notifications.publish_due()
            inbox.drain(max_seconds=30)
            for batch in inbox.pending():
                for account in accounts:
                    wanted = batch.orders.get(account.id, {})
                    if not wanted:
                        continue
                    fetched = fetch_orders(clients[account.id], store, account_id=account.id, orders=wanted,
                                           pii=account.pii)
                    results[account.id].get_order_calls += fetched.orders + len(fetched.not_found)
                    results[account.id].batches += 1
                    load(account.id, sorted(fetched.days), now)
                inbox.confirm({batch.batch_id})
        if now >= next_sweep or now == close + close_after:
            next_sweep += sweep_every
            for account in accounts:
                result, began = results[account.id], time.process_time()
                planned = sweep_window(day, now, DayLog(store, account.id, day).settled_until(settle), settle,
                                       overlap)
                if planned is None:
                    continue
                kind, window = planned
                extracted = extract_window(clients[account.id], store, account_id=account.id, day=day,
                                           marketplace_ids=account.marketplace_ids, pii=account.pii, now=now,
                                           window=window, kind=kind)
                new = {(o["orderId"], o["lastUpdatedTime"]) for p in extracted.pages
                       for o in page_orders(p.operation, json.loads(store.get(p.key))) or []}
                result.sweeps += 1
                result.sweep_pages += len(extracted.pages)
                result.least_pages_per_sweep += math.ceil(len(new - swept[account.id]) / PAGE_SIZE)
                swept[account.id] |= new
                load(account.id, [day], now)
                result.cpu_s_sweeps += time.process_time() - began
    conn.close()
    for account in accounts:
        results[account.id].least_sweep_pages = math.ceil(len(swept[account.id]) / PAGE_SIZE)
        results[account.id].truth = window_truth(state, emulator_refresh_token(account.id), start, close,
                                                 set(account.marketplace_ids))
    return list(results.values())


def day_changes(state, account: Account, start: datetime, close: datetime) -> list[tuple[str, datetime]]:
    """Every change of the account's orders in [start, close), as the emulator's seller makes them."""
    marketplaces = set(account.marketplace_ids)
    return [(history.order_id, ts)
            for history in state.seller.candidates(seller_key(emulator_refresh_token(account.id)), start, close)
            if history.marketplace_id in marketplaces for ts, _ in history.events if start <= ts < close]


def sp_api_seller_ids(account: Account) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """An emulator account's SellerId, as SpApiResource.seller_ids gives it."""
    return {emulator_seller_id(account.id): [(account.id, account.marketplace_ids)]}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 1)


def summary(results: list[DayResult], transform_s: float | None = None) -> dict:
    fresh = [f for r in results for f in r.freshness()]
    return {
        "changes": sum(len(r.changes) for r in results),
        "freshness_p50_s": percentile(fresh, 0.5), "freshness_p95_s": percentile(fresh, 0.95),
        "sweeps": sum(r.sweeps for r in results), "sweep_pages": sum(r.sweep_pages for r in results),
        "quota_factor": round(sum(r.sweep_pages for r in results)
                              / max(1, sum(r.least_sweep_pages for r in results)), 3),
        # The same pages over what each sweep's new versions fill: the overlap's cost alone, without the part
        # of a page every sweep leaves unfilled.
        "quota_factor_per_sweep": round(sum(r.sweep_pages for r in results)
                                        / max(1, sum(r.least_pages_per_sweep for r in results)), 3),
        "sweep_pages_per_account_day": round(sum(r.sweep_pages for r in results) / max(1, len(results)), 1),
        # The daily extraction and its two full lookback re-fetches, for the same day: three times its window.
        "lookback_pages_per_account_day": round(sum(
            3 * math.ceil(len(r.truth[0]) / PAGE_SIZE) for r in results) / max(1, len(results)), 1),
        "get_order_calls": sum(r.get_order_calls for r in results),
        "lost": sum(r.lost() for r in results),
        **({} if transform_s is None else {"transform_s": round(transform_s, 1)}),
    }



def queue_to_load(result: DayResult, sent: list[dict]) -> list[float]:
    """Per delivered notification (first copy) of the account's orders: emulated seconds from its arrival in the
    queue to a version at least as new as its change in the raw tables."""
    loaded: dict[str, list[tuple[datetime, datetime]]] = {}
    for (order_id, updated), at in result.seen.items():
        loaded.setdefault(order_id, []).append((_parse(updated), at))
    out = []
    for message in sent:
        if message["copy"] or message["order_id"] not in loaded:
            continue
        times = [at for updated, at in loaded[message["order_id"]] if updated >= message["changed_at"]]
        if times:
            out.append(max(0.0, (min(times) - message["publish_time"]).total_seconds()))
    return out


def run_freshness(workdir: Path, n_accounts: int = 5, orders_per_day: int = 3000, speed: float = 200.0,
                  sweep_minutes: int = 15, step_minutes: float = 0.5, notified_sweep_minutes: int = 30,
                  rounds: int = 3, settle_minutes: float = DEFAULT_SWEEP_SETTLE.total_seconds() / 60,
                  overlap_minutes: float = 0.0, modes: tuple[str, ...] = MODES) -> dict:
    """The freshness benchmark (benchmarks/freshness.py): a day of `n_accounts` US accounts, sweeps only (every
    `sweep_minutes`), then again with notifications (read every `step_minutes`, swept every
    `notified_sweep_minutes` for what the queue lost), each in a warehouse of its own; then `rounds` sweep rounds
    as Dagster runs, for their CPU."""
    import yaml

    from amazon_orders_pipeline.accounts import load_accounts
    from amazon_orders_pipeline.local_services.moto import moto_server_running
    from amazon_orders_pipeline.testing.env import emulator_env
    from amazon_orders_pipeline.testing.notifications import OrderQueue
    from amazon_orders_pipeline.testing.runs import materialize_transform, sweep
    from amazon_orders_pipeline.testing.truth import marts_and_truth

    accounts_file = workdir / "accounts.yaml"
    accounts_file.write_text(yaml.safe_dump({"accounts": [
        {"id": f"shop-{n}", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"]} for n in range(n_accounts)]}))
    accounts = load_accounts(accounts_file)
    day = datetime.now(UTC).date() - timedelta(days=3)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out: dict = {"accounts": n_accounts, "orders_per_day": orders_per_day, "sweep_minutes": sweep_minutes,
                 "notification_step_minutes": step_minutes, "notified_sweep_minutes": notified_sweep_minutes,
                 "settle_minutes": settle_minutes, "overlap_minutes": overlap_minutes, "emulator_speed": speed}
    with moto_server_running() as moto:
        for mode in modes:
            home = workdir / mode
            # The emulator's orders are every marketplace's; half are Amazon.com's.
            with Emulator(speed=speed, seed=23, orders_per_day=orders_per_day * 2) as emulator:
                env = emulator_env(emulator.url, home, accounts_file, day.isoformat())
                queue = OrderQueue.create(moto, emulator, env, name=f"freshness-{mode}") \
                    if mode == "notifications" else None
                sent = []
                emulator.state.clock.set(start)
                if queue is not None:
                    queue.subscribe()
                results = simulate_day(emulator, accounts, day, env["LANDING_DIR"], env["DUCKDB_PATH"],
                                       sweep_every=timedelta(minutes=notified_sweep_minutes if queue
                                                             else sweep_minutes),
                                       step=timedelta(minutes=step_minutes if queue else sweep_minutes), queue=queue,
                                       settle=timedelta(minutes=settle_minutes),
                                       overlap=timedelta(minutes=overlap_minutes))
                if queue is not None:
                    sent = list(emulator.backends.notifications.published.sent)
                began = time.monotonic()
                assert materialize_transform(env, day).success
                transform_s = time.monotonic() - began
                with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
                    mismatched = sum(sorted(got) != sorted(want) for got, want in (
                        marts_and_truth(conn, r.account_id, *r.truth) for r in results))
                    duplicated = conn.execute("select count(*) - count(distinct (account_id, order_id)) "
                                              "from orders").fetchone()[0]
                figures = summary(results, transform_s)
                figures.update(mismatched_accounts=mismatched, duplicated=duplicated)
                if queue is not None:
                    figures["queue_to_mart_p95_s"] = percentile(
                        [q + transform_s for r in results for q in queue_to_load(r, sent)], 0.95)
                    figures["notifications_sent"] = len(sent)
                else:
                    # CPU of whole sweep rounds as the schedule runs them: one Dagster run for every account.
                    cpu = []
                    for n in range(rounds):
                        emulator.state.clock.set(start + timedelta(days=1, minutes=30 + 15 * n))
                        began = time.process_time()
                        assert sweep(env, day + timedelta(days=1), [a.id for a in accounts]).success
                        cpu.append(time.process_time() - began)
                    figures["cpu_s_per_sweep_round"] = round(sum(cpu[1:]) / max(1, len(cpu) - 1), 2)
                    figures["cpu_s_first_round"] = round(cpu[0], 2)
                # Freshness to the row in `orders`: to the raw tables, plus the transform run that follows.
                for key in ("freshness_p50_s", "freshness_p95_s"):
                    if figures[key] is not None:
                        figures[key] = round(figures[key] + transform_s, 1)
                out[mode] = figures
    return out


def freshness_ok(result: dict) -> bool:
    return all(result[m]["lost"] == 0 and result[m]["duplicated"] == 0 and result[m]["mismatched_accounts"] == 0
               for m in MODES if m in result)
