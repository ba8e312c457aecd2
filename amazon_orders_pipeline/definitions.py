"""The code location's table of contents: assets, checks, the daily job and schedule, sensors, resources."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import dagster as dg

from amazon_orders_pipeline.assets import build_assets
from amazon_orders_pipeline.assets.mcf import mcf_job
from amazon_orders_pipeline.assets.writeback import writeback_job
from amazon_orders_pipeline.checks import CHECKS, build_freshness_checks
from amazon_orders_pipeline.chosen_warnings import chosen_features
from amazon_orders_pipeline.execution import EXECUTOR
from amazon_orders_pipeline.resources import build_resources
from amazon_orders_pipeline.schedules import build_extract_schedules, build_finance_schedule, build_returns_schedule
from amazon_orders_pipeline.sensors import build_mcf_sensor, build_order_change_sensor, build_writeback_sensor
from amazon_orders_pipeline.settings import Settings


def build_definitions(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    settings = Settings.from_env(environ)
    assets = build_assets(settings)
    job, schedules = build_extract_schedules(assets.account_ids, settings.lookback_days,
                                             settings.sweep_interval_minutes)
    finances, settlements, finance_schedules = build_finance_schedule(assets.account_ids)
    returns, returns_schedule = build_returns_schedule(assets.account_ids,
                                                       date.fromisoformat(settings.partitions_start_date))
    sensors = [build_order_change_sensor(job, assets.account_ids, settings, finances)] \
        if settings.order_change_queue_url else []
    writeback, mcf = writeback_job(), mcf_job()
    sensors += [build_writeback_sensor(writeback), build_mcf_sensor(mcf)]
    freshness = build_freshness_checks([*assets.mart_keys, *assets.export_keys], settings.freshness_deadline_cron)
    with chosen_features():
        freshness_sensor = dg.build_sensor_for_freshness_checks(freshness_checks=freshness,
                                                                name="freshness_checks_sensor")
    return dg.Definitions(
        assets=[*assets.all, *assets.writeback, *assets.settlements],
        asset_checks=[*CHECKS, *freshness],
        jobs=[job, finances, settlements, returns, writeback, mcf],
        schedules=[*schedules, *finance_schedules, returns_schedule],
        sensors=[freshness_sensor, *sensors],
        resources=build_resources(settings),
        executor=EXECUTOR,
    )


@dg.definitions
def defs() -> dg.Definitions:
    # Loaded lazily by Dagster, so importing this module reads no files and no environment.
    return build_definitions()
