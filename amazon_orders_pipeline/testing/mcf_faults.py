"""The MCF exactly-once campaign: per seed, a seller of its own sends the shop's orders (the same file dropped twice)
through MCF passes under a random fault mix (timeouts after the request reached the emulator, answers lost after
it acted, 500s, 503s, dropped connections, 429 storms) until every order is settled; then the emulator's count of
creates per sellerFulfillmentOrderId must be exactly 1. The passes run McfRun itself, without a Dagster run each,
so many seeds are cheap. Shared by test_mcf (30 seeds) and `python -m benchmarks.faults --campaign mcf`."""

from __future__ import annotations

import json
import logging
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import requests

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.sp_api.auth import LwaCredentials
from amazon_orders_pipeline.sp_api.fulfillment_outbound import FulfillmentOutbound20200701
from amazon_orders_pipeline.sp_api.http import RetryPolicy, SpApiClient
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.writes.inbox import waiting
from amazon_orders_pipeline.writes.mcf.config import McfConfig
from amazon_orders_pipeline.writes.mcf.run import McfRun

SKUS = ["ECHO-DOT-5-CHARCOAL", "FIRE-TV-4K-MAX", "USB-C-CABLE-2M", "PHONE-STAND-ALU"]
MAX_PASSES = 8


@dataclass(frozen=True)
class SeedResult:
    seed: int
    orders: int
    creates: dict[str, int]
    unsettled: int
    passes: int
    faults: dict

    @property
    def ok(self) -> bool:
        return self.unsettled == 0 and len(self.creates) == self.orders and set(self.creates.values()) == {1}


def fault_plan(seed: int) -> dict:
    rng = random.Random(seed)
    return {"seed": seed, "throttle": rng.choice([0.0, 0.05, 0.15]), "storm_length": rng.choice([1, 3]),
            "server_error": rng.choice([0.0, 0.1, 0.2]), "unavailable": rng.choice([0.0, 0.05]),
            "drop": rng.choice([0.0, 0.1]), "lost_response": rng.choice([0.1, 0.2, 0.3]),
            "slow": rng.choice([0.0, 0.1]), "slow_seconds": 0.3}


def shop_line(shop_id: str, rng: random.Random) -> dict:
    cart = [{"sku": sku, "name": sku, "quantity": rng.randint(1, 3),
             "price": {"currency": "USD", "gross": 19.99, "net": 18.5}} for sku in rng.sample(SKUS, rng.randint(1, 3))]
    return {"id": shop_id, "createdAt": "2026-11-27T08:00:00Z",
            "customer": {"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com",
                         "addresses": [{"type": "delivery", "street": "1 Navy Way", "postalCode": "20001",
                                        "city": "Washington", "state": "DC", "country": "US"}]},
            "cart": cart}


def run_seed(emulator: Emulator, seed: int, workdir: Path, orders: int = 6) -> SeedResult:
    rng = random.Random(seed)
    refresh = f"Atzr|mcf-faults-{seed}"
    account = Account(id=f"mcf-{seed}", region="NA", marketplace_ids=("ATVPDKIKX0DER",), client_id_env="-",
                      client_secret_env="-", refresh_token_env="-")
    inbox, exports = LocalStore(workdir / f"inbox-{seed}"), LocalStore(workdir / f"exports-{seed}")
    ids = [f"s{seed}-{n}" for n in range(orders)]
    content = "".join(json.dumps(shop_line(i, rng)) + "\n" for i in ids).encode()
    inbox.put("orders.jsonl", content)
    inbox.put("orders-again.jsonl", content)  # the same file, dropped twice
    conn = warehouse.connect(str(workdir / f"mcf-{seed}.duckdb"))
    # Short timeouts: with `slow` faults the emulator acts after the client gave up.
    retry = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, timeout_s=0.2)
    client = SpApiClient.for_credentials(emulator.url, f"{emulator.url}/auth/o2/token",
                                         LwaCredentials("c", "s", refresh), retry=retry)
    run = McfRun(inbox=inbox, exports=exports, connect=lambda: nullcontext(conn),
                 outbound=lambda a: FulfillmentOutbound20200701(client), account=account,
                 marketplace_id="ATVPDKIKX0DER", config=McfConfig(preview=bool(seed % 2)),
                 log=logging.getLogger("mcf-faults"), sleep=lambda s: None)
    plan = fault_plan(seed)
    requests.post(f"{emulator.url}/_emulator/faults", json=plan, timeout=10).raise_for_status()
    passes = 0
    try:
        while passes < MAX_PASSES:
            passes += 1
            try:
                run.run()
            except Exception:  # noqa: BLE001 - a failed pass is retried, as Dagster retries a run
                time.sleep(0.01)
            (left,) = conn.execute("select count(*) from mcf.fulfillment_orders where status in "
                                   "('received', 'submitting')").fetchone()
            if left == 0 and not waiting(inbox):
                break
    finally:
        requests.post(f"{emulator.url}/_emulator/faults", json={}, timeout=10).raise_for_status()
    (unsettled,) = conn.execute("select count(*) from mcf.fulfillment_orders where status <> 'submitted'").fetchone()
    conn.close()
    counts = requests.get(f"{emulator.url}/_emulator/fulfillment", timeout=10).json()["creates"]
    return SeedResult(seed, orders, {i: counts[i] for i in ids if i in counts}, unsettled, passes, plan)


def run_campaign(seeds, workdir: Path) -> dict:
    started = time.monotonic()
    with Emulator(speed=5000, seed=1, orders_per_day=10) as emulator:
        results = [run_seed(emulator, seed, workdir) for seed in seeds]
        stats = emulator.state.stats
    served = {kind: sum(n for k, n in stats.items() if k.endswith(f".{kind}"))
              for kind in ("lost_response", "dropped", "429", "500", "503")}
    return {"seeds": len(results), "failed_seeds": [r.seed for r in results if not r.ok], "faults_served": served,
            "orders": sum(r.orders for r in results),
            "created_twice": sum(1 for r in results for n in r.creates.values() if n > 1),
            "never_created": sum(r.orders - len(r.creates) for r in results),
            "passes": sum(r.passes for r in results), "wall_s": round(time.monotonic() - started, 1)}
