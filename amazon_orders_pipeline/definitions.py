"""The code location's table of contents: assets, checks, the daily job and schedule, resources, wired together."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from amazon_orders_pipeline.accounts import accounts_file, load_accounts
from amazon_orders_pipeline.assets.dbt import build_dbt_assets
from amazon_orders_pipeline.assets.exports import build_export_assets
from amazon_orders_pipeline.assets.raw import build_order_pages_asset
from amazon_orders_pipeline.checks import CHECKS
from amazon_orders_pipeline.partitions import daily_partitions, raw_partitions
from amazon_orders_pipeline.resources import build_resources
from amazon_orders_pipeline.schedules import after_extraction, build_daily_extract, lookback_days


def build_assets(environ: Mapping[str, str] = os.environ) -> list[dg.AssetsDefinition]:
    accounts = load_accounts(accounts_file(environ))
    daily = daily_partitions(environ)
    follow = after_extraction(lookback_days(environ))
    return [build_order_pages_asset(raw_partitions(daily, [a.id for a in accounts])),
            build_dbt_assets(daily, follow), *build_export_assets(daily, follow)]


def build_checks() -> list[dg.AssetChecksDefinition]:
    return list(CHECKS)


def build_definitions(environ: Mapping[str, str] = os.environ) -> dg.Definitions:
    account_ids = [a.id for a in load_accounts(accounts_file(environ))]
    job, schedule = build_daily_extract(raw_partitions(daily_partitions(environ), account_ids),
                                        account_ids, lookback_days(environ))
    return dg.Definitions(assets=build_assets(environ), asset_checks=build_checks(), jobs=[job],
                          schedules=[schedule], resources=build_resources(environ))


@dg.definitions
def defs() -> dg.Definitions:
    # Loaded lazily by Dagster, so importing this module reads no files and no environment.
    return build_definitions()
