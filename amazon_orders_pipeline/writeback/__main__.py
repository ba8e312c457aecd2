"""One write-back pass from the command line, as the `writeback` job runs it (for a cron job, or a run by hand):

    python -m amazon_orders_pipeline.writeback

Reads the same settings as the Dagster code location (the README's configuration table) and prints the pass's
figures as one JSON object. Exits 1 if the pass failed."""

from __future__ import annotations

import argparse
import json
import os
import sys

from amazon_orders_pipeline.assets.writeback import WRITEBACK_KEY
from amazon_orders_pipeline.local_runs import materialize_writeback


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m amazon_orders_pipeline.writeback", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    result = materialize_writeback(environ=os.environ, raise_on_error=False)
    figures = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key == WRITEBACK_KEY:
            figures = {k: v.value for k, v in event.materialization.metadata.items()}
    print(json.dumps({"success": result.success, **figures}, default=str))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
