"""One run worker of the production profile, as a machine of its own would run it: the extract stage for some
accounts over some days, then the transform and exports of those days, with the Dagster instance of DAGSTER_HOME
(dagster.production.yaml: PostgreSQL) and the warehouse, landing area and exports of the environment (DuckLake and
S3). It shares nothing with another worker but those services. Used by the tests of the production profile.

    python -m amazon_orders_pipeline.testing.worker --first 2026-11-18 --last 2026-11-19 --accounts acme-us
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

import dagster as dg

from amazon_orders_pipeline.testing import runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=date.fromisoformat, required=True)
    parser.add_argument("--last", type=date.fromisoformat, required=True)
    parser.add_argument("--accounts", required=True, help="comma-separated, neighbours in the accounts file")
    parser.add_argument("--no-transform", action="store_true", help="the extract stage only")
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    with dg.DagsterInstance.get() as instance:
        accounts = args.accounts.split(",")
        ok = runs.materialize_raw_range(environ, args.first, args.last, accounts, instance=instance).success
        if ok and not args.no_transform:
            ok = runs.materialize_transform(environ, args.first, args.last, instance=instance,
                                            raise_on_error=False).success
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
