"""Randomized faults: many seller-days extracted under random mixes of emulator faults, then compared with the truth.

    python -m benchmarks.faults [--seeds 500] [--first-seed 0] [--campaign extract|mcf]

Each seed is its own seller and emulator, alternately on Orders v2026-01-01 and v0 (with an RDT on every other v0
seed), under a random fault plan: 429 storms, 500s and 503s, slow responses, dropped connections, truncated bodies,
access tokens revoked mid-run, and for some seeds the emulator's clock jumping 25 hours after a page, which expires
the pagination token and every access token and RDT at once. A run that fails is run again, as a Dagster retry
would, resuming from what it landed. Every day is then loaded, one dbt build runs over all of them, and each
seller's `orders` and `order_items` are compared with the emulator's ground truth (orders the emulator changed
again after the window are left out on both sides). Prints one JSON object:
`{runs, failures, lost, duplicated, extra, mismatched, retried_runs, restarted_windows, faults_served, wall_s}`.

With `--campaign mcf`, each seed instead sends a web shop's orders (the same file dropped twice) through MCF passes
under a random fault mix (timeouts after the request reached the emulator, answers lost after it acted, 500s, 503s,
dropped connections, 429 storms), and prints `{seeds, failed_seeds, orders, created_twice, never_created, passes,
wall_s}` from the emulator's count of creates per sellerFulfillmentOrderId.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from amazon_orders_pipeline.testing import mcf_faults
from amazon_orders_pipeline.testing.faults import run_campaign


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--campaign", choices=["extract", "mcf"], default="extract",
                        help="extract: seller-days against the truth; mcf: MCF orders created exactly once")
    args = parser.parse_args(argv)
    campaign = mcf_faults.run_campaign if args.campaign == "mcf" else run_campaign
    with tempfile.TemporaryDirectory() as tmp:
        out = campaign(range(args.first_seed, args.first_seed + args.seeds), Path(tmp))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
