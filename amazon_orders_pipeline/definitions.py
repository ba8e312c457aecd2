"""The code location's table of contents: assets, checks, the daily job and schedule, resources, wired together."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from amazon_orders_pipeline.accounts import accounts_file, load_accounts
from amazon_orders_pipeline.assets.dbt import build_dbt_assets
from amazon_orders_pipeline.assets.exports import EXPORT_KEYS, build_export_assets
from amazon_orders_pipeline.assets.raw import build_landed_pages_asset, build_order_pages_asset
from amazon_orders_pipeline.checks import CHECKS
from amazon_orders_pipeline.partitions import daily_partitions, raw_partitions
from amazon_orders_pipeline.resources import build_resources
from amazon_orders_pipeline.schedules import after_extraction, build_daily_extract, lookback_days


@dataclass(frozen=True)
class Settings:
    """What the definitions are built from, read from the environment once."""

    account_ids: list[str]
    daily: dg.DailyPartitionsDefinition
    lookback: int

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Settings:
        return cls([a.id for a in load_accounts(accounts_file(environ))], daily_partitions(environ),
                   lookback_days(environ))

    @property
    def raw(self) -> dg.MultiPartitionsDefinition:
        return raw_partitions(self.daily, self.account_ids)


def build_assets(environ: Mapping[str, str] = os.environ, settings: Settings | None = None
                 ) -> list[dg.AssetsDefinition]:
    settings = settings or Settings.read(environ)
    follow = after_extraction(settings.lookback)
    return [build_landed_pages_asset(settings.raw), build_order_pages_asset(settings.raw),
            build_dbt_assets(settings.daily, follow),
            *build_export_assets(settings.daily, follow)]


MART_KEYS = (dg.AssetKey(["orders"]), dg.AssetKey(["order_items"]), dg.AssetKey(["order_addresses"]))
DEFAULT_FRESHNESS_DEADLINE_CRON = "0 3 * * *"

# Runs execute their steps in processes of their own. forkserver imports the code location once per run and forks
# each step from it, instead of importing it again for every step (seconds per step on a small machine).
EXECUTOR = dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}})


def build_checks() -> list[dg.AssetChecksDefinition]:
    return list(CHECKS)


def build_freshness_checks(environ: Mapping[str, str] = os.environ) -> list[dg.AssetChecksDefinition]:
    """Per daily partition: the newest complete day of each mart and export is materialized by the deadline
    (FRESHNESS_DEADLINE_CRON, UTC)."""
    return list(dg.build_time_partition_freshness_checks(
        assets=[*MART_KEYS, *EXPORT_KEYS],
        deadline_cron=environ.get("FRESHNESS_DEADLINE_CRON") or DEFAULT_FRESHNESS_DEADLINE_CRON,
        timezone="UTC"))


def build_definitions(environ: Mapping[str, str] = os.environ) -> dg.Definitions:
    settings = Settings.read(environ)
    job, schedule = build_daily_extract(settings.raw, settings.account_ids, settings.lookback)
    freshness = build_freshness_checks(environ)
    freshness_sensor = dg.build_sensor_for_freshness_checks(freshness_checks=freshness,
                                                            name="freshness_checks_sensor")
    return dg.Definitions(assets=build_assets(environ, settings), asset_checks=build_checks() + freshness,
                          jobs=[job], schedules=[schedule], sensors=[freshness_sensor],
                          resources=build_resources(environ), executor=EXECUTOR)


@dg.definitions
def defs() -> dg.Definitions:
    # Loaded lazily by Dagster, so importing this module reads no files and no environment.
    return build_definitions()
