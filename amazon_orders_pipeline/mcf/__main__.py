"""One MCF pass from the command line, as the `mcf` job runs it: the storefront inbox, preview, create, cancel and
tracking.

    python -m amazon_orders_pipeline.mcf

Reads the same settings as the Dagster code location and prints the pass's figures as one JSON object. Exits 1
if the pass failed."""

from __future__ import annotations

import sys

from amazon_orders_pipeline.assets.mcf import MCF_KEY
from amazon_orders_pipeline.local_runs import writes_command

if __name__ == "__main__":
    sys.exit(writes_command(MCF_KEY, "python -m amazon_orders_pipeline.mcf", __doc__))
