"""The fault campaign behind `python -m benchmarks.faults` (its docstring says what a seed does and what it
prints) and its test: random fault mixes per seller-day, then the marts against the ground truth."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.faults import FaultPlan
from amazon_orders_pipeline.emulator.orders import seller_tag
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.extract import ExtractError, PageStore, extract_window
from amazon_orders_pipeline.sp_api import AuthError, LwaCredentials, RetryPolicy, SpApiClient, SpApiError
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.dbt_runs import run_dbt
from amazon_orders_pipeline.testing.truth import expected_rows, mart_rows, window_truth
from amazon_orders_pipeline.warehouse import load_landed

# One account is one region (the emulator refuses other regions' marketplaces, as Amazon does).
MARKETPLACES = ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]
# A run that still fails after this many tries counts as a failure of the seed.
MAX_RUNS = 4
# The emulator's quotas are Amazon's times this.
SPEED = 2000
# Sellers per warehouse: the emulator tells 100 sellers' order ids apart, and the marts' order ids are unique.
BATCH = 90


@dataclass
class SeedOutcome:
    seed: int
    account_id: str
    api_version: str
    pii: bool
    plan: dict
    clock_jump_after_page: int | None
    runs: int = 0
    restarted: bool = False
    errors: list[str] = field(default_factory=list)
    expected_orders: list[tuple] = field(default_factory=list)
    expected_items: list[tuple] = field(default_factory=list)
    moved: set[str] = field(default_factory=set)
    faults_served: int = 0


def random_case(seed: int) -> tuple[str, bool, dict, int | None, int, int]:
    """(api version, pii, fault plan, page after which the clock jumps or None, orders a day, v0 items page size)."""
    rng = random.Random(seed)
    api_version = "v0" if seed % 2 else "2026-01-01"
    pii = api_version == "2026-01-01" or seed % 4 == 1
    plan = {
        "seed": seed,
        "throttle": rng.choice([0.0, 0.05, 0.15]),
        "storm_length": rng.randint(1, 4),
        "server_error": rng.uniform(0, 0.08),
        "unavailable": rng.uniform(0, 0.08),
        "slow": rng.uniform(0, 0.05),
        "slow_seconds": 0.05,
        "drop": rng.uniform(0, 0.05),
        "truncate": rng.uniform(0, 0.05),
        "revoke_token_every": rng.choice([0, 0, 11, 37]),
    }
    jump = rng.choice([None, None, 1, 2])
    return api_version, pii, plan, jump, rng.randint(150, 350), rng.choice([1, 2, 100])


def run_seed(seed: int, refresh: str, day: date, landing: LocalStore,
             conn: duckdb.DuckDBPyConnection) -> SeedOutcome:
    """Extract one seller's day under the seed's faults (running again after a failure), load it, and record
    the ground truth it must end up as."""
    api_version, pii, plan, jump, per_day, items_page = random_case(seed)
    account_id = f"seed-{seed}"
    outcome = SeedOutcome(seed, account_id, api_version, pii, plan, jump)
    with Emulator(speed=SPEED, seed=seed, orders_per_day=per_day) as emu:
        state = emu.state
        state.v0_items_page_size = items_page
        state.faults.configure(FaultPlan(**plan))

        jumped = []

        def maybe_jump(progress) -> None:
            if progress.page.number == jump and not jumped:  # once per seed
                jumped.append(True)
                state.clock.set(state.clock.now() + timedelta(hours=25))

        result = None
        while result is None and outcome.runs < MAX_RUNS:
            outcome.runs += 1
            client = SpApiClient.for_credentials(
                emu.url, f"{emu.url}/auth/o2/token", LwaCredentials("campaign", "campaign-secret", refresh),
                retry=RetryPolicy(base_delay_s=0.005, max_delay_s=0.05, timeout_s=5),
                usage_plans=emu.state.usage_plans())
            try:
                result = extract_window(client, landing, account_id=account_id, day=day,
                                        marketplace_ids=MARKETPLACES, pii=pii, api_version=api_version,
                                        on_page=maybe_jump if jump else None)
            except (ExtractError, SpApiError, AuthError) as e:
                outcome.errors.append(str(e)[:300])
        outcome.faults_served = sum(v for k, v in state.stats.items()
                                    if k.endswith((".429", ".500", ".503", ".403", ".dropped")))
        if result is None:
            return outcome
        outcome.restarted = result.restarted
        state.faults.configure(FaultPlan())
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        truth, outcome.moved = window_truth(state, refresh, start, start + timedelta(days=1), set(MARKETPLACES))
        outcome.expected_orders, outcome.expected_items = expected_rows(
            [o for o in truth if o["orderId"] not in outcome.moved])
    load_landed(conn, PageStore(landing, account_id, day), account_id, day, result.attempt_id, len(result.pages))
    return outcome


def distinct_sellers(seeds: list[int]) -> dict[int, str]:
    """A refresh token per seed whose seller has an order-id tag of its own among these seeds."""
    tokens, used = {}, set()
    for seed in seeds:
        k = 0
        while seller_tag(seller_key(f"Atzr|fault-campaign-{seed}-{k}")) in used:
            k += 1
        tokens[seed] = f"Atzr|fault-campaign-{seed}-{k}"
        used.add(seller_tag(seller_key(tokens[seed])))
    return tokens


def compare(conn: duckdb.DuckDBPyConnection, o: SeedOutcome) -> dict:
    """One seed's marts against its ground truth: orders lost, orders that should not be there, records landed
    twice, and whether the order and item rows differ (status, totals, quantities, prices)."""
    if o.errors and o.runs == MAX_RUNS and not o.expected_orders:
        return {"failed": True, "lost": 0, "extra": 0, "duplicated": 0, "mismatched": 0}
    got_orders, got_items = mart_rows(conn, o.account_id)
    got_orders = [r for r in got_orders if r[0] not in o.moved]
    got_items = [r for r in got_items if r[0] not in o.moved]
    got_ids, want_ids = {r[0] for r in got_orders}, {r[0] for r in o.expected_orders}
    records, distinct = conn.execute(
        "select count(*), count(distinct json_extract_string(order_json, '$.orderId')) "
        "+ count(distinct json_extract_string(order_json, '$.order.AmazonOrderId')) "
        "from raw.order_records where account_id = ?", [o.account_id]).fetchone()
    counts = {"lost": len(want_ids - got_ids), "extra": len(got_ids - want_ids), "duplicated": records - distinct,
              "mismatched": (got_orders != o.expected_orders) + (got_items != o.expected_items)}
    return {"failed": any(counts.values()), **counts}


def run_campaign(seeds: range, workdir: Path) -> dict:
    """Every seed, a dbt build per batch of sellers, then the comparison. Returns the summary with the failed
    seeds."""
    day = datetime.now(UTC).date() - timedelta(days=6)
    landing = LocalStore(workdir / "landing")
    started = time.monotonic()
    outcomes: list[tuple[SeedOutcome, dict]] = []
    seeds = list(seeds)
    for batch_start in range(0, len(seeds), BATCH):
        batch = seeds[batch_start: batch_start + BATCH]
        db = str(workdir / f"faults-{batch_start}.duckdb")
        tokens = distinct_sellers(batch)
        with warehouse.connect(db) as conn:
            extracted = [run_seed(seed, tokens[seed], day, landing, conn) for seed in batch]
        run_dbt(db, day, day + timedelta(days=1))
        with duckdb.connect(db, read_only=True) as conn:
            outcomes += [(o, compare(conn, o)) for o in extracted]
    total = {k: sum(c[k] for _, c in outcomes) for k in ("lost", "extra", "duplicated", "mismatched")}
    return {
        "runs": len(outcomes),
        "failures": sum(c["failed"] for _, c in outcomes),
        **total,
        "orders": sum(len(o.expected_orders) for o, _ in outcomes),
        "retried_runs": sum(o.runs - 1 for o, _ in outcomes),
        "restarted_windows": sum(o.restarted for o, _ in outcomes),
        "clock_jumps": sum(o.clock_jump_after_page is not None for o, _ in outcomes),
        "faults_served": sum(o.faults_served for o, _ in outcomes),
        "wall_s": round(time.monotonic() - started, 2),
        "failed_seeds": [{"seed": o.seed, **c, "errors": o.errors[-2:]} for o, c in outcomes if c["failed"]][:20],
    }
