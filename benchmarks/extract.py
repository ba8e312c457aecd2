"""Extraction against the rate-limit bound: one window of ~20,000 orders through the real client and landing.

    python -m benchmarks.extract [--orders 20000] [--bound 45]

Prints one JSON object. `bound_s` is the least time the searchOrders quota allows, (pages - burst) / rate;
`ratio` = wall_s / bound_s says how close to the quota the extraction runs.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta

from amazon_orders_pipeline.emulator import Emulator
from amazon_orders_pipeline.emulator.app import seller_key
from amazon_orders_pipeline.extract import extract_window
from amazon_orders_pipeline.sp_api import LwaCredentials, SpApiClient
from amazon_orders_pipeline.sp_api.rate_limit import USAGE_PLANS
from amazon_orders_pipeline.stores import LocalStore

MARKETPLACES = ["ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A1VC38T7YXB528"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20_000, help="about this many orders in the window")
    parser.add_argument("--bound", type=float, default=45.0, help="aim the quota bound at this many seconds")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    rate, burst = USAGE_PLANS["searchOrders"]
    expected_pages = math.ceil(args.orders / 100)
    speed = max(1.0, (expected_pages - burst) / (rate * args.bound))
    day = datetime.now(UTC).date() - timedelta(days=7)
    refresh = "Atzr|benchmark"
    with Emulator(speed=speed, seed=args.seed, orders_per_day=args.orders) as emu, \
            tempfile.TemporaryDirectory() as landing_dir:
        # Ground truth first: it also warms the emulator's generator, which is not what is being measured.
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        truth = emu.state.window_orders(seller_key(refresh), "lastUpdated", start, start + timedelta(days=1),
                                        emu.state.clock.now(), marketplaces=set(MARKETPLACES))
        client = SpApiClient.for_credentials(emu.url, f"{emu.url}/auth/o2/token",
                                             LwaCredentials("bench", "bench-secret", refresh))
        started = time.monotonic()
        result = extract_window(client, LocalStore(landing_dir), account_id="bench", day=day,
                                marketplace_ids=MARKETPLACES, pii=True)
        wall = time.monotonic() - started
        got = []
        for page in result.pages:
            body = LocalStore(landing_dir).get(page.key)
            got.extend(o["orderId"] for o in json.loads(body)["orders"])
    pages = len(result.pages)
    bound = max(pages - burst, 0) / (rate * speed)
    truth_ids = {o.order_id for o in truth}
    out = {
        "api": "2026-01-01",
        "orders": len(got),
        "pages": pages,
        "wall_s": round(wall, 3),
        "bound_s": round(bound, 3),
        "ratio": round(wall / bound, 4) if bound else None,
        "speed": round(speed, 2),
        "rate_per_s": round(rate * speed, 4),
        "burst": burst,
        "calls": result.stats["calls"],
        "throttled_calls": result.stats["throttled_calls"],
        "retries": result.stats["retries"],
        "lost": len(truth_ids - set(got)),
        "duplicated": len(got) - len(set(got)),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
