"""Randomized faults: many seller-days extracted under random mixes of emulator faults, then compared with the truth.

    python -m benchmarks.faults [--seeds 500] [--first-seed 0]

Each seed is its own seller and emulator, alternately on Orders v2026-01-01 and v0 (with an RDT on every other v0
seed), under a random fault plan: 429 storms, 500s and 503s, slow responses, dropped connections, truncated bodies,
access tokens revoked mid-run, and for some seeds the emulator's clock jumping 25 hours after a page, which expires
the pagination token and every access token and RDT at once. A run that fails is run again, as a Dagster retry
would, resuming from what it landed. Every day is then loaded, one dbt build runs over all of them, and each
seller's `orders` and `order_items` are compared with the emulator's ground truth (orders the emulator changed
again after the window are left out on both sides). Prints one JSON object:
`{runs, failures, lost, duplicated, extra, mismatched, retried_runs, restarted_windows, faults_served, wall_s}`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from amazon_orders_pipeline.testing.faults import run_campaign


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = run_campaign(range(args.first_seed, args.first_seed + args.seeds), Path(tmp))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
