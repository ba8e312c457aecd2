"""When the transform and exports run: Dagster's eager automation, over the days the extraction may still touch."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from amazon_orders_pipeline.finances.landing import READ_AGES
from amazon_orders_pipeline.returns.landing import TRAILING_DAYS


def after_extraction(lookback: int) -> dg.AutomationCondition:
    """Dagster's eager condition (run when the upstream partitions have been updated, none is missing and none is
    in progress), widened from the newest day to the lookback window: a day re-extracted by the lookback gets its
    transform and exports re-run too. Every account's raw partition of a day is upstream of that day, so the
    transform waits until all of them have landed."""
    return dg.AutomationCondition.eager().replace(
        dg.AutomationCondition.in_latest_time_window(),
        # Today, the day that closed, and the lookback days before it.
        dg.AutomationCondition.in_latest_time_window(timedelta(days=lookback + 2)),
    )


def after_finance_reads() -> dg.AutomationCondition:
    """The same condition over the posted days the money's schedule still reads again (READ_AGES): a re-read 35
    days back is followed by its transform too."""
    return after_extraction(max(READ_AGES))


def after_return_reads() -> dg.AutomationCondition:
    """The same condition over the report days the returns' schedule reads again each day (TRAILING_DAYS), started
    by the returns' reads and the money's models (a refund to pair with), not by the order marts: order_returns
    reads `orders` only to flag a return whose order is not there, and following every orders run would rebuild the
    returns several times a day, and before any return or money had been read."""
    return after_extraction(TRAILING_DAYS).ignore(dg.AssetSelection.groups("marts"))
