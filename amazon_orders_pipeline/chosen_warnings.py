"""Dagster's warnings about features this project chose on purpose, silenced narrowly (by category and message) in
one place, around the calls that use them; any other warning still shows."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

CHOSEN: list[tuple[type[Warning], str]] = [
    # A backfill is one run per account (a year through 13 order reports, not 365 runs), and the load step must take
    # the same policy to load in the same run: BackfillPolicy.single_run() is the only way Dagster offers.
    (dg.BetaWarning, r"Parameter `backfill_policy` of function `(asset|multi_asset)` is currently in beta"),
    # Superseded, not deprecated: the marts' and exports' partition deadlines are asset checks the UI lists beside
    # dbt's tests and the checks' sensor evaluates; a FreshnessPolicy is no asset check.
    (dg.SupersessionWarning, r"Function `build_time_partition_freshness_checks` is superseded"),
    (dg.SupersessionWarning, r"Function `build_sensor_for_freshness_checks` is superseded"),
]


@contextmanager
def chosen_features() -> Iterator[None]:
    with warnings.catch_warnings():
        for category, message in CHOSEN:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield
