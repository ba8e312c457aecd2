"""`python -m amazon_orders_pipeline SUBCOMMAND`: the same as the `amazon-orders` console script."""

import sys

from amazon_orders_pipeline.commands import main

sys.exit(main())
