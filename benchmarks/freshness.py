"""Freshness: how soon an order change at Amazon is in `orders`, with sweeps only and with ORDER_CHANGE
notifications, over a simulated day.

    python -m benchmarks.freshness [--accounts 5] [--orders-per-day 3000] [--speed 200] [--sweep-minutes 15]
                                   [--step-minutes 0.5] [--notified-sweep-minutes 30]

One emulator (index lag up to 5 minutes, notifications published 6 s to 4 minutes after each change) serves
`--accounts` US sellers of `--orders-per-day` orders on Amazon.com, with status changes through the day. Each
account's day runs on the emulator's clock from 00:00 to its close at 00:10 the next day: a sweep every
`--sweep-minutes`; in the second pass the notifications are read off an SQS queue on moto server every
`--step-minutes` (each batch read with getOrder; 0.5 is the sensor's 30-second interval), and the sweeps, now only
the reconciliation for lost or late messages, come every `--notified-sweep-minutes`. Quotas are Amazon's documented
rates times `--speed`, since the day passes in minutes. The pipeline's functions run as the assets run them, without
a Dagster run per step; the transform runs once at the end, and its wall time is added to the freshness figures (the
transform follows each extract run). Then three sweep rounds of all accounts run as real Dagster runs, for their
CPU.

Prints one JSON object, {"sweeps": {...}, "notifications": {...}}, each with `freshness_p50_s`/`freshness_p95_s`
(emulated seconds from a change to a version at least as new in the raw tables, plus the transform's seconds),
`quota_factor` (searchOrders pages over the pages the fetched order versions fill, each once),
`quota_factor_per_sweep` (the same pages over the pages each sweep's new versions fill: the overlap's cost without
the unfilled last page of each sweep), `lost` (changes never
seen), `duplicated` (extra rows in `orders`), `mismatched_accounts` (marts unequal to the truth); sweeps add
`cpu_s_per_sweep_round`, notifications `queue_to_mart_p95_s` (from the message's arrival in the queue).
Exits 1 if anything was lost, duplicated or unequal to the truth.
"""

from __future__ import annotations

import argparse

from amazon_orders_pipeline.testing.freshness import MODES, freshness_ok, run_freshness
from benchmarks import add_keep, run_in_workdir


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--orders-per-day", type=int, default=3000, help="per account, on Amazon.com")
    parser.add_argument("--speed", type=float, default=200.0, help="multiplies the emulator's quotas")
    parser.add_argument("--sweep-minutes", type=int, default=15)
    parser.add_argument("--step-minutes", type=float, default=0.5, help="how often the queue is read")
    parser.add_argument("--notified-sweep-minutes", type=int, default=30,
                        help="how often the notifications pass sweeps")
    parser.add_argument("--settle-minutes", type=float, default=5.0,
                        help="how long before now each sweep's window ends (SWEEP_SETTLE_MINUTES)")
    parser.add_argument("--overlap-minutes", type=float, default=0.0,
                        help="what each sweep re-reads before the last one's settled end (SWEEP_OVERLAP_MINUTES)")
    parser.add_argument("--modes", default=",".join(MODES), help="which passes to run, of " + ",".join(MODES))
    add_keep(parser)
    args = parser.parse_args(argv)
    return run_in_workdir(args.keep, lambda workdir: run_freshness(
        workdir, args.accounts, args.orders_per_day, args.speed, args.sweep_minutes, args.step_minutes,
        args.notified_sweep_minutes, settle_minutes=args.settle_minutes, overlap_minutes=args.overlap_minutes,
        modes=tuple(m for m in args.modes.split(",") if m)),
        freshness_ok)


if __name__ == "__main__":
    main()
