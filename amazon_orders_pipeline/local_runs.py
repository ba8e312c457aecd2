"""In-process materializations for the demo and tests: raw partitions, then one run per range for the rest."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

import dagster as dg

from amazon_orders_pipeline.accounts import load_accounts
from amazon_orders_pipeline.assets import build_assets
from amazon_orders_pipeline.assets.dbt import DBT_ASSETS_OP
from amazon_orders_pipeline.assets.keys import (
    EXPORT_KEYS,
    EXTRACT_MODE_TAG,
    FINANCE_RAW_KEYS,
    FINANCES_GROUP,
    JOURNAL_EXPORT_KEY,
    MONEY_EXPORT_KEY,
    RAW_KEYS,
    RETURN_EXPORT_KEY,
    RETURN_RAW_KEYS,
    RETURNS_GROUP,
)
from amazon_orders_pipeline.checks import CHECKS
from amazon_orders_pipeline.extract.increments import WINDOW
from amazon_orders_pipeline.resources import build_resources
from amazon_orders_pipeline.schedules import RANGE_END, RANGE_START, SETTLEMENT_KEYS
from amazon_orders_pipeline.settings import Settings

# Progress lines (INFO) on the console, not every engine event.
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def day_span(first: date, last: date) -> dict[str, str]:
    """The run tags of one run over the daily partitions [first, last]."""
    return {RANGE_START: first.isoformat(), RANGE_END: last.isoformat()}


def account_span(first: date, last: date, account_ids: list[str]) -> dict[str, str]:
    """The run tags of one run over the (day x account) partitions of [first, last] and `account_ids` (neighbours
    in the accounts file)."""
    return {RANGE_START: f"{account_ids[0]}|{first.isoformat()}", RANGE_END: f"{account_ids[-1]}|{last.isoformat()}"}


def materialize_raw(day: date, account_id: str, *, environ: Mapping[str, str] = os.environ,
                    resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                    raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    settings = Settings.from_env(environ)
    assets = build_assets(settings).all
    key = dg.MultiPartitionKey({"date": day.isoformat(), "account": account_id})
    return dg.materialize(assets, selection=list(RAW_KEYS), partition_key=key,
                          resources=resources or build_resources(settings),
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config=QUIET)


def materialize_raw_range(first: date, last: date, account_ids: list[str], *,
                          environ: Mapping[str, str] = os.environ, resources: dict | None = None,
                          instance: dg.DagsterInstance | None = None,
                          raise_on_error: bool = True, mode: str = WINDOW) -> dg.ExecuteInProcessResult:
    """The extract stage for [first, last] of `account_ids` as one run, as a backfill of them runs it: the accounts
    must be neighbours in the accounts file's order (all of them, or one), since a run's range spans both. `mode`:
    the run's extract mode (window, sweep or recheck; see extract/plan.py)."""
    settings = Settings.from_env(environ)
    order = [a.id for a in load_accounts(settings.accounts_file)]
    span = order[order.index(account_ids[0]):order.index(account_ids[-1]) + 1]
    if span != list(account_ids):
        raise ValueError(f"accounts {account_ids} are not neighbours in the accounts file ({order})")
    tags = {**account_span(first, last, account_ids), EXTRACT_MODE_TAG: mode}
    return materialize_raw_tags(tags, environ=environ, resources=resources, instance=instance,
                                raise_on_error=raise_on_error)


def materialize_raw_tags(tags: Mapping[str, str], *, environ: Mapping[str, str] = os.environ,
                         resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                         raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """The extract stage as one run with these tags (a partition range, an extract mode), as a schedule's or a
    sensor's run request makes it."""
    settings = Settings.from_env(environ)
    return dg.materialize(build_assets(settings).all, selection=list(RAW_KEYS), tags=dict(tags),
                          resources=resources or build_resources(settings),
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config=QUIET)


def materialize_finance_tags(tags: Mapping[str, str], *, environ: Mapping[str, str] = os.environ,
                             resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                             raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """The money's read and load as one run with these tags (posted days, a read mode), as the finances schedule's
    or the notifications sensor's run request makes it."""
    settings = Settings.from_env(environ)
    return dg.materialize(build_assets(settings).all, selection=list(FINANCE_RAW_KEYS), tags=dict(tags),
                          resources=resources or build_resources(settings),
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config=QUIET)


def materialize_writes(key: dg.AssetKey, *, environ: Mapping[str, str] = os.environ, resources: dict | None = None,
                       instance: dg.DagsterInstance | None = None,
                       raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """One pass of an unpartitioned write to Amazon: the MFN write-back (WRITEBACK_KEY) or the MCF orders
    (MCF_KEY)."""
    settings = Settings.from_env(environ)
    assets = build_assets(settings)
    return dg.materialize([*assets.all, *assets.writeback], selection=[key],
                          resources=resources or build_resources(settings),
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config=QUIET)


def materialize_transform(first: date, last: date, *, environ: Mapping[str, str] = os.environ,
                          resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                          raise_on_error: bool = True, full_refresh: bool = False,
                          exports: bool = True) -> dg.ExecuteInProcessResult:
    """Every dbt model, export and check for the days [first, last], as one run (the single-run backfill policy).
    The exports run in the same run as the marts, so the marts' blocking checks hold them back when they fail.
    `full_refresh`: the dbt assets' run config of that name (dbt's --full-refresh). `exports`: False stops at the
    marts and their checks. The money (the `finances` group) is not built: its days are the days Amazon posted it,
    not the days of the orders, and materialize_finances builds them (each dbt run of the orders would otherwise
    build and test the money's models too); nor are the returns (materialize_returns)."""
    settings = Settings.from_env(environ)
    built = build_assets(settings)
    assets, groups = built.all, built.dbt.group_names_by_key
    downstream = [k for a in assets for k in a.keys
                  if k not in RAW_KEYS + FINANCE_RAW_KEYS + RETURN_RAW_KEYS + (MONEY_EXPORT_KEY, RETURN_EXPORT_KEY)
                  and groups.get(k) not in (FINANCES_GROUP, RETURNS_GROUP) and (exports or k not in EXPORT_KEYS)]
    tags = day_span(first, last)
    run_config = {**QUIET, "ops": {DBT_ASSETS_OP: {"config": {"full_refresh": full_refresh}}}}
    return dg.materialize(assets + CHECKS, selection=downstream, tags=tags,
                          resources=resources or build_resources(settings),
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config=run_config)


def materialize_group_models(group: str, first: date, last: date, *, extra: tuple[dg.AssetKey, ...] = (),
                             environ: Mapping[str, str] = os.environ, resources: dict | None = None,
                             instance: dg.DagsterInstance | None = None,
                             raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """The dbt models of one subject's group (`finances`, `returns`), their checks and `extra` assets over the days
    [first, last], as one run (what automation does after a read)."""
    settings = Settings.from_env(environ)
    assets = build_assets(settings)
    groups = assets.dbt.group_names_by_key
    models = [k for k in assets.dbt.keys if groups.get(k) == group] + list(extra)
    return dg.materialize(assets.all + CHECKS, selection=models, resources=resources or build_resources(settings),
                          instance=instance or dg.DagsterInstance.ephemeral(), tags=day_span(first, last),
                          raise_on_error=raise_on_error, run_config=QUIET)


def materialize_finance_models(first: date, last: date, **kwargs) -> dg.ExecuteInProcessResult:
    """The `finances` dbt models, their checks and the money's exports over the posted days [first, last]."""
    return materialize_group_models(FINANCES_GROUP, first, last, extra=(MONEY_EXPORT_KEY,), **kwargs)


def materialize_finances(first: date, last: date, account_ids: list[str], *, environ: Mapping[str, str] = os.environ,
                         resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                         raise_on_error: bool = True) -> tuple[dg.ExecuteInProcessResult, ...]:
    """The money for the posted days [first, last] of `account_ids` (neighbours in the accounts file, as for
    materialize_raw_range): one run that reads and loads them, one that lands the settlement reports, then one of
    the `finances` dbt models and the money's exports over the days, and one of the settlement journals."""
    settings = Settings.from_env(environ)
    assets = build_assets(settings)
    resources = resources or build_resources(settings)
    instance = instance or dg.DagsterInstance.ephemeral()
    tags = account_span(first, last, account_ids)
    raw = dg.materialize(assets.all, selection=list(FINANCE_RAW_KEYS), tags=tags, resources=resources,
                         instance=instance, raise_on_error=raise_on_error, run_config=QUIET)
    settlements = dg.materialize([*assets.all, *assets.settlements], selection=list(SETTLEMENT_KEYS),
                                 resources=resources, instance=instance, raise_on_error=raise_on_error,
                                 run_config=QUIET)
    dbt = materialize_finance_models(first, last, environ=environ, resources=resources, instance=instance,
                                     raise_on_error=raise_on_error)
    journals = dg.materialize([*assets.all, *assets.settlements], selection=[JOURNAL_EXPORT_KEY], resources=resources,
                              instance=instance, raise_on_error=raise_on_error, run_config=QUIET)
    return raw, settlements, dbt, journals


def materialize_returns(first: date, last: date, account_ids: list[str], *, environ: Mapping[str, str] = os.environ,
                        resources: dict | None = None, instance: dg.DagsterInstance | None = None,
                        raise_on_error: bool = True, tags: Mapping[str, str] | None = None
                        ) -> dg.ExecuteInProcessResult:
    """The returns reports of the report days [first, last] of `account_ids` (neighbours in the accounts file), read
    and loaded as one run, as the returns schedule's run does (`tags` adds run tags: a backfill's id, say)."""
    settings = Settings.from_env(environ)
    return dg.materialize(build_assets(settings).all, selection=list(RETURN_RAW_KEYS),
                          tags={**account_span(first, last, account_ids), **(tags or {})},
                          resources=resources or build_resources(settings),
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config=QUIET)


def materialize_return_models(first: date, last: date, **kwargs) -> dg.ExecuteInProcessResult:
    """The `returns` dbt models, their checks and the ERP's return documents over the report days [first, last].
    They read the order marts and the money's staging, which must have been built."""
    return materialize_group_models(RETURNS_GROUP, first, last, extra=(RETURN_EXPORT_KEY,), **kwargs)
