"""Extraction against the rate-limit bound: one window of orders through the real client and landing.

    python -m benchmarks.extract [--api 2026-01-01|v0] [--orders N] [--bound 45]

Prints one JSON object. `bound_s` is the least time the quotas allow:
- v2026 (searchOrders): (pages - burst) / rate;
- v0 (getOrders pages and one getOrderItems call per order, run concurrently):
  max((pages - 20) / rate_getOrders, (orders - 30) / rate_getOrderItems).
`ratio` = wall_s / bound_s says how close to the quota the extraction runs. The emulator's speed factor scales every
rate so that the bound is about `--bound` seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta

from amazon_orders_pipeline.extract import PageStore, extract_window, landed_window
from amazon_orders_pipeline.sp_api import LwaCredentials, SpApiClient
from amazon_orders_pipeline.sp_api.rate_limit import USAGE_PLANS
from amazon_orders_pipeline.stores import LocalStore
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.emulator_process import EmulatorProcess

# One account is one region: the EU's UK and DE, which carry 40% of the synthetic seller's orders.
MARKETPLACES = ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]
MARKETPLACES_SHARE = 0.4


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", choices=["2026-01-01", "v0"], default="2026-01-01")
    parser.add_argument("--orders", type=int, default=None,
                        help="about this many orders in the window (default 20,000; 5,000 for v0, whose bound is "
                             "one getOrderItems call per order)")
    parser.add_argument("--bound", type=float, default=45.0, help="aim the quota bound at this many seconds")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    orders = args.orders or (5_000 if args.api == "v0" else 20_000)
    page_op = "getOrders" if args.api == "v0" else "searchOrders"
    rate, burst = USAGE_PLANS[page_op]
    item_rate, item_burst = USAGE_PLANS["getOrderItems"]

    def bound_at(speed: float, pages: int, n_orders: int) -> float:
        pages_s = max(pages - burst, 0) / (rate * speed)
        items_s = max(n_orders - item_burst, 0) / (item_rate * speed) if args.api == "v0" else 0.0
        return max(pages_s, items_s)

    speed = max(1.0, bound_at(1.0, math.ceil(orders / 100), orders) / args.bound)
    day = datetime.now(UTC).date() - timedelta(days=7)
    refresh = "Atzr|benchmark"
    # The emulator serves from a process of its own, as Amazon is another machine: its work (the lagged index's
    # searches) is then not the client's time.
    with EmulatorProcess(speed=speed, seed=args.seed, orders_per_day=round(orders / MARKETPLACES_SHARE)) as emu, \
            tempfile.TemporaryDirectory() as landing_dir:
        # Ground truth first: it also warms the emulator's generator, which is not what is being measured.
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        truth = EmulatorControl(emu).ground_truth(refresh, start, start + timedelta(days=1), MARKETPLACES)
        client = SpApiClient.for_credentials(emu.url, f"{emu.url}/auth/o2/token",
                                             LwaCredentials("bench", "bench-secret", refresh))
        started = time.monotonic()
        result = extract_window(client, LocalStore(landing_dir), account_id="bench", day=day,
                                marketplace_ids=MARKETPLACES, pii=True, api_version=args.api)
        wall = time.monotonic() - started
        window = landed_window(PageStore(LocalStore(landing_dir), "bench", day), result.attempt_id,
                               len(result.pages))
        got, items = [], 0
        for page, body in window.pages:
            data = json.loads(body)
            if page.operation == "searchOrders":
                got.extend(o["orderId"] for o in data["orders"])
                items += sum(len(o["orderItems"]) for o in data["orders"])
            elif page.operation == "getOrders":
                got.extend(o["AmazonOrderId"] for o in data["payload"]["Orders"])
        if args.api == "v0":
            items = sum(len(v) for v in window.order_items.values())
    pages = len(result.pages)
    bound = bound_at(speed, pages, len(got))
    truth_ids = {o["orderId"] for o in truth}
    out = {
        "api": args.api,
        "orders": len(got),
        "items": items,
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
        "lost": len(truth_ids - set(got)) + len(window.orders_without_items),
        "duplicated": len(got) - len(set(got)),
    }
    if args.api == "v0":
        out["item_rate_per_s"] = round(item_rate * speed, 4)
        out["orders_without_items"] = len(window.orders_without_items)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
