"""Partitions: daily UTC change windows, crossed with the seller accounts from the accounts config."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import dagster as dg


def daily_partitions(start_date: str) -> dg.DailyPartitionsDefinition:
    # end_offset=1: the newest partition is today, whose change window grows during the day by sweeps
    # (extract/increments.py) and closes after midnight.
    return dg.DailyPartitionsDefinition(start_date=start_date, timezone="UTC", end_offset=1)


def account_partitions(account_ids: Sequence[str]) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(list(account_ids))


def raw_partitions(daily: dg.DailyPartitionsDefinition, account_ids: Sequence[str]) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition({"date": daily, "account": account_partitions(account_ids)})


def split_key(key: dg.MultiPartitionKey | str) -> tuple[date, str]:
    """(day, account) from a raw partition key."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
        return date.fromisoformat(dims["date"]), dims["account"]
    # The string form joins the dimensions in name order: "<account>|<date>".
    parts = str(key).split("|")
    if len(parts) != 2:
        raise ValueError(f"expected a date x account partition key, got {key!r}")
    return date.fromisoformat(parts[1]), parts[0]
