"""Load: many accounts x days backfilled through `dagster dev` against one emulator, as a data engineer backfills.

    python -m benchmarks.load [--accounts 20] [--days 7] [--orders-per-day 300] [--speed 50]
                              [--max-concurrent-runs 4] [--backend duckdb|ducklake]

One emulator serves every account (every fifth on Orders v0, the rest on v2026-01-01; PII on for every other one;
US and EU marketplaces alternately). `dagster dev` runs with the repository's dagster.yaml (the DuckDB pool and
`max_concurrent_runs`), and a backfill of every asset and partition is launched over GraphQL as the UI launches it:
the extract stage as one run per day over every account (or one per account over every day, whichever is fewer:
Dagster's single-run backfill policy over date x account partitions), then the transform and exports as single runs,
each with the multiprocess executor. When it ends, every account's `orders` and `order_items` are compared with the
emulator's ground truth.

Prints one JSON object: the backfill's status, runs (raw, succeeded, failed, with a DuckDB lock error), the most
runs in flight at once, orders, accounts whose marts differ from the truth, wall time from launch to the end, and
peak memory sampled every second: the whole `dagster dev` session (webserver, daemon, code servers, runs, steps),
its largest single process, and this process (the emulator and the sampler). Exits 1 if anything failed.
`--backend ducklake` runs the production profile instead, every service on loopback: a throwaway PostgreSQL (the
DuckLake catalog and the Dagster instance, with dagster.production.yaml) and moto server (the lake's data files,
the landing area, the exports); the JSON then says `"backend": "ducklake"`.
`--speed` scales the emulator's quotas (1 = Amazon's own; a v0 day of 300 orders then takes 9 minutes of
getOrderItems calls).
"""

from __future__ import annotations

import argparse

from amazon_orders_pipeline.testing.load import ok, run_load
from benchmarks import add_keep, run_in_workdir


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--orders-per-day", type=int, default=300)
    parser.add_argument("--speed", type=float, default=50.0)
    parser.add_argument("--max-concurrent-runs", type=int, default=None,
                        help="default: the repository's dagster.yaml")
    parser.add_argument("--backend", choices=["duckdb", "ducklake"], default="duckdb",
                        help="ducklake: the production profile (DuckLake on PostgreSQL and S3, landing and exports "
                             "in S3, the Dagster instance in PostgreSQL), all started here on loopback")
    add_keep(parser)
    args = parser.parse_args(argv)
    return run_in_workdir(args.keep, lambda workdir: run_load(
        workdir, args.accounts, args.days, args.orders_per_day, args.speed, args.max_concurrent_runs,
        backend=args.backend), ok)


if __name__ == "__main__":
    main()
