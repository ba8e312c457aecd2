"""Finances: a year of one seller's money after the sale, read from listTransactions into the money marts.

    python -m benchmarks.finances [--days 365] [--orders-per-day 5000] [--speed 4]

The emulator runs in a process of its own with listTransactions at `--speed` times Amazon's quota (0.5 requests a
second, a burst of 10) and `--orders-per-day` orders a day on Amazon.com (it makes the seller's other marketplaces'
orders too, twice as many in all). One US account's posted days, the newest three days old, are read one after
the other as the pipeline reads a day (finances/landing.py: pages of up to 500, landed, then loaded into the raw
tables); the settlement reports Amazon lists (90 days) are fetched and loaded; one dbt build makes the money marts.

Prints one JSON object: `transactions`, `pages`, `calls`, `wall_s` (the reading: every page listed and landed),
`bound_s` (what listTransactions' quota alone needs for those calls at that speed), `ratio` = wall / bound,
`load_s` (the loading that follows, as in a backfill's single run: it does not use the quota, so it is kept out of
the ratio; at Amazon's own quota it is a quarter of its share here) and `total_s`, `settlements` and
`settlements_tied_out`, `orders_shipped` (the seller's orders with a shipment posted in the days, listable when read)
and `orders_attributed` (those with their money in order_financials), `lost` and `duplicated` transactions,
`peak_rss_mb` (this process or dbt's, the larger), `dbt_s`, `emulator_cpu_s`, and `calls_per_account_day` for the
daily reading with its re-reads. Exits 1 if a transaction was lost or duplicated, a settlement did not tie out or a
shipped order has no money.
"""

from __future__ import annotations

import argparse

from amazon_orders_pipeline.testing.money_benchmark import ok, run_money
from benchmarks import add_keep, run_in_workdir


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders-per-day", type=int, default=5000)
    parser.add_argument("--speed", type=float, default=4.0, help="multiplies listTransactions' quota")
    add_keep(parser)
    args = parser.parse_args(argv)
    return run_in_workdir(args.keep, lambda workdir: run_money(workdir, args.days, args.orders_per_day, args.speed),
                          ok)


if __name__ == "__main__":
    main()
