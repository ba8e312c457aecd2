"""One write-back pass from the command line, as the `writeback` job runs it (for a cron job, or a run by hand):

    python -m amazon_orders_pipeline.writeback

Reads the same settings as the Dagster code location (the README's configuration table) and prints the pass's
figures as one JSON object. Exits 1 if the pass failed."""

from __future__ import annotations

import sys

from amazon_orders_pipeline.assets.writeback import WRITEBACK_KEY
from amazon_orders_pipeline.local_runs import writes_command

if __name__ == "__main__":
    sys.exit(writes_command(WRITEBACK_KEY, "python -m amazon_orders_pipeline.writeback", __doc__))
