"""Backfill: a year of one seller's history through order reports, from the command line into the marts.

    python -m benchmarks.backfill [--days 365] [--orders-per-day 5000] [--report-processing-s 60] [--speed 1]
                                  [--report-workers 2]

The emulator runs in a process of its own at Amazon's documented quotas (`--speed` 1: createReport and
getReportDocument 0.0167/s with a burst of 15, getReport 2/s) and takes `--report-processing-s` real seconds to
process each report, making the documents in `--report-workers` processes side by side, as Amazon's servers would.
(It makes every marketplace's orders of the seller to find the region's: 3.65M synthetic orders for a year at
5,000 a day on Amazon.com, which in one thread takes longer than the target by itself.) One US account
(`history_source: reports`, the default) with `--orders-per-day` orders a day on Amazon.com is backfilled by
`amazon-orders history --no-exports` in a process of its own: the extract run (30-day reports,
landed, loaded) and the transform run (dbt and the checks, into the marts; a year of daily export files is left
out, as for an ERP that has these orders already). Then the marts' order ids are compared with the seller's orders
last updated in the range, rebuilt from the emulator's seed.

Prints one JSON object: `orders`, `reports` (createReport calls), `wall_s` (the history command, start to exit),
`search_orders_bound_s` (what searchOrders alone would need for the same days at Amazon's quota: one page of 100
orders per day's window at least, a burst of 20, then 0.0056 pages/s), `speedup` = bound / wall, `peak_rss_mb` (the
history command's processes, dbt included, sampled every 0.5 s), `pipeline_cpu_s` and `emulator_cpu_s` (CPU
seconds each used meanwhile, the emulator's report workers included), `lost`, `extra` and `duplicated` against the
seller's orders. Exits 1 if the command failed or an order was lost, extra
or duplicated.
"""

from __future__ import annotations

import argparse

from amazon_orders_pipeline.testing.backfill import ok, run_backfill
from benchmarks import add_keep, run_in_workdir


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders-per-day", type=int, default=5000)
    parser.add_argument("--report-processing-s", type=float, default=60.0, help="real seconds per report")
    parser.add_argument("--speed", type=float, default=1.0, help="multiplies the emulator's quotas")
    parser.add_argument("--report-workers", type=int, default=2,
                        help="emulator processes making report documents (0: one thread of the emulator)")
    add_keep(parser)
    args = parser.parse_args(argv)
    return run_in_workdir(args.keep, lambda workdir: run_backfill(
        workdir, args.days, args.orders_per_day, args.report_processing_s, args.speed, args.report_workers), ok)


if __name__ == "__main__":
    main()
