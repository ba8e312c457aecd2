"""The daily schedule and the automation behind it: which partitions run, and when the transform follows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from amazon_orders_pipeline.assets.keys import EXPORT_KEYS, EXTRACT_MODE_TAG, RAW_KEYS, RETURN_RAW_KEYS
from amazon_orders_pipeline.checks import build_freshness_checks
from amazon_orders_pipeline.definitions import build_definitions
from amazon_orders_pipeline.partitions import daily_partitions
from amazon_orders_pipeline.schedules import RANGE_END, RANGE_START, days_to_extract, days_to_sweep
from amazon_orders_pipeline.settings import ConfigError, Settings
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS

BASE = dg.AssetKey(["base_amazon_sp_api__order_records"])
ORDERS = dg.AssetKey(["orders"])
SALESFORCE = dg.AssetKey(["salesforce_order_export"])
MARTS = ("orders", "order_items", "order_addresses", "order_packages", "order_package_items",
         "order_tax_registrations")
MART_KEYS = tuple(dg.AssetKey([m]) for m in MARTS)
RETURNS = dg.AssetKey(["order_returns"])
REFUNDS = dg.AssetKey(["stg_amazon_sp_api__refund_items"])


def lookback_days(environ: dict[str, str]) -> int:
    return Settings.from_env(environ).lookback_days


@pytest.fixture
def defs(tmp_path) -> dg.Definitions:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    return build_definitions({"ACCOUNTS_FILE": str(accounts), "PARTITIONS_START_DATE": "2026-10-01"})


def run_partitions(defs: dg.Definitions, request: dg.RunRequest) -> list[tuple[str, str]]:
    """The (date, account) partitions a run request's range spans."""
    raw = defs.resolve_job_def("daily_extract").partitions_def
    keys = raw.get_partition_keys_in_range(dg.PartitionKeyRange(request.tags[RANGE_START], request.tags[RANGE_END]))
    return sorted((k.keys_by_dimension["date"], k.keys_by_dimension["account"]) for k in keys)


def test_the_daily_schedule_closes_the_day_and_rechecks_the_lookback_in_one_run_each(defs):
    schedule = defs.resolve_schedule_def("daily_extract_schedule")
    assert schedule.cron_schedule == "20 0 * * *" and schedule.execution_timezone == "UTC"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 23, 0, 20, tzinfo=UTC),
                                        repository_def=defs.get_repository_def())
    close, recheck = schedule.evaluate_tick(context).run_requests
    assert close.tags[EXTRACT_MODE_TAG] == "sweep" and recheck.tags[EXTRACT_MODE_TAG] == "recheck"
    assert run_partitions(defs, close) == [("2026-11-22", a) for a in ("acme-eu", "acme-us")]
    assert run_partitions(defs, recheck) == [(d, a) for d in ("2026-11-20", "2026-11-21")
                                             for a in ("acme-eu", "acme-us")]
    assert close.run_key != recheck.run_key
    assert defs.resolve_job_def("daily_extract").asset_layer.selected_asset_keys == set(RAW_KEYS)


def test_the_returns_schedule_reads_the_trailing_days_of_every_account_in_one_run(defs):
    schedule = defs.resolve_schedule_def("daily_returns_schedule")
    assert schedule.cron_schedule == "0 3 * * *"

    def tick(at: datetime):
        context = dg.build_schedule_context(scheduled_execution_time=at, repository_def=defs.get_repository_def())
        return schedule.evaluate_tick(context)

    (request,) = tick(datetime(2027, 1, 10, 3, tzinfo=UTC)).run_requests
    days = sorted({d for d, _ in run_partitions(defs, request)})
    assert days[0] == "2026-11-11" and days[-1] == "2027-01-09" and len(days) == 60
    assert len(run_partitions(defs, request)) == 120  # both accounts
    # Nearer the first partition (2026-10-01) than 60 days: from it; on its first day, nothing has closed.
    (request,) = tick(datetime(2026, 10, 20, 3, tzinfo=UTC)).run_requests
    assert min(run_partitions(defs, request))[0] == "2026-10-01"
    assert not tick(datetime(2026, 10, 1, 3, tzinfo=UTC)).run_requests
    assert defs.resolve_job_def("daily_returns").asset_layer.selected_asset_keys == set(RETURN_RAW_KEYS)


def test_a_sweep_round_is_one_run_for_every_account_of_today_and_yesterday_after_midnight(defs):
    schedule = defs.resolve_schedule_def("intraday_sweep_schedule")
    assert schedule.cron_schedule == "*/15 * * * *"
    accounts = ("acme-eu", "acme-us")
    with dg.instance_for_test() as instance:
        def tick(at: datetime) -> list[tuple[str, str]]:
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=at,
                                                repository_def=defs.get_repository_def())
            (request,) = schedule.evaluate_tick(context).run_requests
            assert request.tags[EXTRACT_MODE_TAG] == "sweep"
            return run_partitions(defs, request)

        assert tick(datetime(2026, 11, 23, 14, 15, tzinfo=UTC)) == [("2026-11-23", a) for a in accounts]
        assert tick(datetime(2026, 11, 23, 0, 30, tzinfo=UTC)) == [(d, a) for d in ("2026-11-22", "2026-11-23")
                                                                   for a in accounts]
        # Today's window has not opened yet: only yesterday's close.
        assert tick(datetime(2026, 11, 23, 0, 0, tzinfo=UTC)) == [("2026-11-22", a) for a in accounts]
    assert days_to_sweep(datetime(2026, 11, 23, 1, 0, tzinfo=UTC)) == [date(2026, 11, 23)]


def test_a_sweep_round_is_skipped_while_the_last_one_runs(defs):
    schedule = defs.resolve_schedule_def("intraday_sweep_schedule")
    with dg.instance_for_test() as instance:
        instance.add_run(dg.DagsterRun(job_name="daily_extract", run_id="r1", status=dg.DagsterRunStatus.STARTED,
                                       tags={EXTRACT_MODE_TAG: "sweep"}))
        with dg.build_schedule_context(instance=instance,
                                       scheduled_execution_time=datetime(2026, 11, 23, 14, 15, tzinfo=UTC),
                                       repository_def=defs.get_repository_def()) as context:
            result = schedule.evaluate_tick(context)
        assert not result.run_requests and "still queued or running" in result.skip_message


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
        # The returns' models wait for the returns' reads and the money: the orders alone do not start them.
        assert not ready.get_requested_partitions(RETURNS)


def test_the_returns_models_follow_the_returns_reads_not_the_orders(defs):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    graph = defs.resolve_asset_graph()
    models = (RETURNS, REFUNDS, dg.AssetKey(["stg_amazon_sp_api__return_rows"]))
    with dg.instance_for_test() as instance:
        def report(keys):
            for key in keys:
                partitions = ([dg.MultiPartitionKey({"date": yesterday.isoformat(), "account": a})
                               for a in ("acme-us", "acme-eu")]
                              if isinstance(graph.get(key).partitions_def, dg.MultiPartitionsDefinition)
                              else [yesterday.isoformat()])
                for partition in partitions:
                    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))

        # Everything the returns' models read has been built, then the models; then only the orders change.
        report({*RETURN_RAW_KEYS, *(k for m in models for k in graph.get(m).parent_keys)} - set(models))
        report(models)
        settled = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        report([dg.AssetKey(["orders"])])
        after_orders = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=settled.cursor)
        assert not after_orders.get_requested_partitions(RETURNS)
        report(RETURN_RAW_KEYS)
        after_reads = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after_orders.cursor)
        assert yesterday.isoformat() in after_reads.get_requested_partitions(RETURNS)


def test_freshness_is_checked_per_daily_partition_of_every_mart_and_export(defs):
    checked = {k.asset_key for k in defs.resolve_asset_graph().asset_check_keys if k.name == "freshness_check"}
    assert checked == {*MART_KEYS, *EXPORT_KEYS}
    assert defs.resolve_sensor_def("freshness_checks_sensor")

    daily = daily_partitions("2026-10-01")
    specs = [dg.AssetSpec(k, partitions_def=daily) for k in (*MART_KEYS, *EXPORT_KEYS)]
    checks = build_freshness_checks([*MART_KEYS, *EXPORT_KEYS], Settings.from_env({}).freshness_deadline_cron)

    def evaluate(instance) -> dict[str, bool]:
        result = dg.materialize([*specs, *checks], instance=instance,
                                selection=dg.AssetSelection.checks_for_assets(*MART_KEYS))
        return {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}

    today = datetime.now(UTC).date()
    with dg.instance_for_test() as instance:
        assert evaluate(instance) == dict.fromkeys(MARTS, False)
        # The partition that was the newest at the last deadline lands for `orders` (today's, which the sweeps
        # materialize from 00:15; before 03:00 UTC, yesterday's); the others do not.
        for day in (today, today - timedelta(days=1)):
            instance.report_runless_asset_event(dg.AssetMaterialization("orders", partition=day.isoformat()))
        assert evaluate(instance) == {**dict.fromkeys(MARTS, False), "orders": True}
