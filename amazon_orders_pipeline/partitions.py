"""Partitions: daily UTC change windows, crossed with the seller accounts from the accounts config."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date

import dagster as dg

DEFAULT_START_DATE = "2026-01-01"


def daily_partitions(environ: Mapping[str, str] = os.environ) -> dg.DailyPartitionsDefinition:
    # end_offset=0: the newest partition is yesterday, the last complete UTC day.
    return dg.DailyPartitionsDefinition(start_date=environ.get("PARTITIONS_START_DATE") or DEFAULT_START_DATE,
                                        timezone="UTC")


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
