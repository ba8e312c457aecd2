"""The daily schedule and the automation behind it: which partitions run, and when the transform follows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from amazon_orders_pipeline.accounts import ConfigError
from amazon_orders_pipeline.assets.exports import EXPORT_KEYS
from amazon_orders_pipeline.assets.raw import RAW_KEYS
from amazon_orders_pipeline.checks import build_freshness_checks
from amazon_orders_pipeline.definitions import build_definitions
from amazon_orders_pipeline.partitions import daily_partitions
from amazon_orders_pipeline.schedules import days_to_extract
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS

BASE = dg.AssetKey(["base_amazon_sp_api__order_records"])
ORDERS = dg.AssetKey(["orders"])
SALESFORCE = dg.AssetKey(["salesforce_order_export"])
MART_KEYS = (dg.AssetKey(["orders"]), dg.AssetKey(["order_items"]), dg.AssetKey(["order_addresses"]))


def lookback_days(environ: dict[str, str]) -> int:
    return Settings.from_env(environ).lookback_days


@pytest.fixture
def defs(tmp_path) -> dg.Definitions:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    return build_definitions({"ACCOUNTS_FILE": str(accounts), "PARTITIONS_START_DATE": "2026-10-01"})


def test_the_schedule_requests_the_closed_day_and_the_lookback_for_every_account(defs):
    schedule = defs.get_schedule_def("daily_extract_schedule")
    assert schedule.cron_schedule == "20 0 * * *" and schedule.execution_timezone == "UTC"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 23, 0, 20, tzinfo=UTC),
                                        repository_def=defs.get_repository_def())
    requests = list(schedule.evaluate_tick(context).run_requests)
    keys = sorted((r.partition_key.keys_by_dimension["date"], r.partition_key.keys_by_dimension["account"],
                   r.tags["lookback"]) for r in requests)
    assert keys == [(d, a, "false" if d == "2026-11-22" else "true")
                    for d in ("2026-11-20", "2026-11-21", "2026-11-22") for a in ("acme-eu", "acme-us")]
    assert len({r.run_key for r in requests}) == 6
    assert defs.resolve_job_def("daily_extract").asset_layer.selected_asset_keys == set(RAW_KEYS)


def test_lookback_days_come_from_the_environment_with_clear_errors():
    assert lookback_days({}) == 2 and lookback_days({"LOOKBACK_DAYS": "0"}) == 0
    assert days_to_extract(datetime(2026, 1, 1, 0, 20, tzinfo=UTC), 1) == [date(2025, 12, 30), date(2025, 12, 31)]
    for bad in ("two", "-1", "31"):
        with pytest.raises(ConfigError, match="LOOKBACK_DAYS"):
            lookback_days({"LOOKBACK_DAYS": bad})


def landed(instance: dg.DagsterInstance, day: date, account_id: str) -> None:
    """Record that a raw partition landed, as the extract run would."""
    key = dg.MultiPartitionKey({"date": day.isoformat(), "account": account_id})
    for asset_key in RAW_KEYS:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset_key, partition=key))


def test_the_transform_and_exports_follow_once_every_account_of_a_day_has_landed(defs):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # nothing happens when Dagster starts

        landed(instance, yesterday, "acme-us")
        waiting = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert waiting.total_requested == 0  # acme-eu's half of the day has not landed yet

        landed(instance, yesterday, "acme-eu")
        landed(instance, yesterday - timedelta(days=2), "acme-us")  # lookback day, both accounts
        landed(instance, yesterday - timedelta(days=2), "acme-eu")
        landed(instance, yesterday - timedelta(days=5), "acme-us")  # older than the lookback: left alone
        landed(instance, yesterday - timedelta(days=5), "acme-eu")
        ready = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=waiting.cursor)
        expected = {yesterday.isoformat(), (yesterday - timedelta(days=2)).isoformat()}
        for key in (BASE, ORDERS, SALESFORCE):
            assert ready.get_requested_partitions(key) == expected, key


def test_freshness_is_checked_per_daily_partition_of_every_mart_and_export(defs):
    checked = {k.asset_key for k in defs.resolve_asset_graph().asset_check_keys if k.name == "freshness_check"}
    assert checked == {*MART_KEYS, *EXPORT_KEYS}
    assert defs.get_sensor_def("freshness_checks_sensor")

    daily = daily_partitions("2026-10-01")
    specs = [dg.AssetSpec(k, partitions_def=daily) for k in (*MART_KEYS, *EXPORT_KEYS)]
    checks = build_freshness_checks([*MART_KEYS, *EXPORT_KEYS], Settings.from_env({}).freshness_deadline_cron)

    def evaluate(instance) -> dict[str, bool]:
        result = dg.materialize([*specs, *checks], instance=instance,
                                selection=dg.AssetSelection.checks_for_assets(*MART_KEYS))
        return {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with dg.instance_for_test() as instance:
        assert evaluate(instance) == {"orders": False, "order_items": False, "order_addresses": False}
        # The newest complete day (or, before 03:00 UTC, the day before it) of `orders` lands; the others do not.
        for day in (yesterday, yesterday - timedelta(days=1)):
            instance.report_runless_asset_event(dg.AssetMaterialization("orders", partition=day.isoformat()))
        assert evaluate(instance) == {"orders": True, "order_items": False, "order_addresses": False}
