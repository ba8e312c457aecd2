"""The production profile: DuckLake (catalog in PostgreSQL, data in S3 on moto), landing and exports in S3, and a
Dagster instance in PostgreSQL. Two workers that share nothing but those services run at once; a worker killed
mid-write leaves the lake consistent; write conflicts are retried with a bound; settings hold no secret."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import pytest

from amazon_orders_pipeline import lake, warehouse
from amazon_orders_pipeline.assets.dbt import BuildConflict, failed_results
from amazon_orders_pipeline.dbt_project import dbt_build_args
from amazon_orders_pipeline.local_services.production import environ_added
from amazon_orders_pipeline.settings import ConfigError, Settings
from amazon_orders_pipeline.testing.dagster_dev import REPO
from amazon_orders_pipeline.testing.runs import query
from amazon_orders_pipeline.testing.truth import orders_against_truth

pytestmark = pytest.mark.slow

MARKETPLACES = {"acme-us": ["ATVPDKIKX0DER"], "acme-eu": ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]}


def test_lake_settings_are_checked_and_hold_no_secret():
    env = {"WAREHOUSE_BACKEND": "ducklake", "DUCKLAKE_CATALOG": "dbname=lake host=db.internal user=etl",
           "DUCKLAKE_DATA_PATH": "s3://lake/data/"}
    settings = Settings.from_env(env)
    assert settings.warehouse == lake.LakeConfig("dbname=lake host=db.internal user=etl", "s3://lake/data/")
    # Logs and metadata say where the lake is, not who connects to it.
    assert "etl" not in settings.lake.describe() and "db.internal" in settings.lake.describe()
    args = dbt_build_args(datetime(2026, 11, 1).date(), datetime(2026, 11, 2).date(), database=settings.lake)
    assert args[1:3] == ["--target", "lake"] and "password" not in " ".join(args).lower()
    with pytest.raises(ConfigError, match="must not hold a password"):
        assert Settings.from_env({**env, "DUCKLAKE_CATALOG": "dbname=lake host=db password=hunter2"}).warehouse
    with pytest.raises(ConfigError, match="DUCKLAKE_DATA_PATH is empty"):
        assert Settings.from_env({**env, "DUCKLAKE_DATA_PATH": ""}).warehouse
    with pytest.raises(ConfigError, match="WAREHOUSE_BACKEND must be one of duckdb, ducklake"):
        Settings.from_env({"WAREHOUSE_BACKEND": "motherduck"})
    assert Settings.from_env({}).warehouse == Settings.from_env({}).duckdb_path


def test_a_write_conflict_is_retried_and_one_that_stays_is_reported_clearly(lake_env):
    config = Settings.from_env(lake_env).lake
    with warehouse.connect(config) as conn:
        conn.execute("create table t as select range as i, range % 2 as k from range(10)")
    # Two writers delete from and insert into the same table at once: the later commit loses (DuckLake's own
    # conflict), and running its transaction again succeeds.
    loser = warehouse.connect(config)
    attempts = []

    def replace_k1():
        attempts.append(1)
        loser.execute("begin")
        loser.execute("delete from t where k = 1")
        loser.execute("insert into t values (101, 1)")
        if len(attempts) == 1:
            with warehouse.connect(config) as winner:
                winner.execute("begin; delete from t where k = 0; insert into t values (100, 0); commit")
        loser.execute("commit")

    lake.retry_conflicts(replace_k1, "test")
    assert len(attempts) == 2
    assert query(config, "select k, list(i order by i) from t group by k order by k") == [(0, [100]), (1, [101])]

    def always_conflicting():
        raise duckdb.TransactionException("Failed to commit DuckLake transaction. Transaction conflict - test")

    with pytest.raises(lake.LakeConflictError, match="write conflict 3 times in a row"):
        lake.retry_conflicts(always_conflicting, "the load of acme-us 2026-11-01", attempts=3)
    loser.close()


def test_a_dbt_build_that_lost_a_commit_is_recognised_from_its_run_results(tmp_path):
    results = tmp_path / "run_results.json"
    lost = ("TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\nTransaction conflict"
            " - attempting to insert into table with index \"7\" - but another transaction has deleted from it")
    results.write_text(json.dumps({"results": [
        {"unique_id": "model.amazon_orders.orders", "status": "error", "message": lost},
        {"unique_id": "model.amazon_orders.order_items", "status": "success", "message": "OK"},
        {"unique_id": "test.amazon_orders.not_null_orders_order_id", "status": "fail", "message": "Got 1 result"}]}))
    errors = failed_results(results)
    assert errors == [f"model.amazon_orders.orders: {lost}",
                      "test.amazon_orders.not_null_orders_order_id: Got 1 result"]
    assert [lake.is_conflict_message(e) for e in errors] == [True, False]
    assert failed_results(tmp_path / "never-written.json") == []

    # Such a build is run again whole, through the same retry as a load's transaction; another error is not.
    builds = []

    def build():
        builds.append(1)
        if len(builds) < 3:
            raise BuildConflict(["event"], errors)
        return "built"

    assert lake.retry_conflicts(build, "dbt build", retryable=lambda e: isinstance(e, BuildConflict)) == "built"
    assert len(builds) == 3

    def broken():
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        lake.retry_conflicts(broken, "dbt build", retryable=lambda e: isinstance(e, BuildConflict))


# --- two machines ---------------------------------------------------------------------------------------------------

def production_env(tmp_path: Path, emulator, production, name: str) -> dict[str, str]:
    """The pipeline's settings on the production profile: a new lake, landing and exports in S3, and a new Dagster
    instance database."""
    from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS, emulator_env

    (tmp_path / "accounts.yaml").write_text(TWO_ACCOUNTS)
    instance_db = production.postgres.create_database(f"dagster_{name}")
    return {**emulator_env(emulator.url, tmp_path / "unused-local-state", tmp_path / "accounts.yaml"),
            **production.production_env(name), **production.postgres.dagster_env(instance_db)}


def start_worker(env: dict[str, str], workdir: Path, first, last, accounts: str,
                 *extra: str) -> subprocess.Popen:
    """A worker process in a working directory of its own, with its own DAGSTER_HOME (the production instance
    settings) and nothing else on disk in common with any other worker."""
    home = workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.production.yaml", home / "dagster.yaml")
    return subprocess.Popen(
        [sys.executable, "-m", "amazon_orders_pipeline.testing.worker", "--first", first.isoformat(),
         "--last", last.isoformat(), "--accounts", accounts, *extra],
        cwd=workdir, env={**os.environ, **env, "DAGSTER_HOME": str(home)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)


def assert_marts_equal_truth(env, control, accounts, first, days: int) -> None:
    location = Settings.from_env(env).warehouse
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    for account_id in accounts:
        got, expected = orders_against_truth(location, control, account_id, start, start + timedelta(days=days),
                                             MARKETPLACES[account_id])
        assert got == expected and got, account_id


def step_span(instance: dg.DagsterInstance, run_id: str, step_key: str) -> tuple[float, float] | None:
    """When the step started and ended in the run, from the instance's event log."""
    times = {e.dagster_event.event_type: e.timestamp for e in instance.all_logs(run_id)
             if e.dagster_event and e.dagster_event.step_key == step_key and e.dagster_event.event_type in (
                 dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS)}
    return (times[dg.DagsterEventType.STEP_START], times[dg.DagsterEventType.STEP_SUCCESS]) if len(times) == 2 else None


def raw_is_whole(location) -> None:
    """Every (account, day) in the raw tables is a whole load: its pages numbered 1..n with no gap, and exactly the
    records its searchOrders pages hold. A half-written transaction would break one or the other."""
    pages = query(location, "select account_id, partition_date, list(page_number order by page_number), "
                            "sum(order_count) filter (where operation = 'searchOrders') from raw.order_pages "
                            "where api_version <> 'report' group by all")
    records = dict(((a, d), n) for a, d, n in query(
        location, "select account_id, partition_date, count(*) from raw.order_records group by all"))
    for account_id, day, numbers, orders in pages:
        assert numbers == list(range(1, len(numbers) + 1)), (account_id, day, numbers)
        assert records.get((account_id, day), 0) == orders, (account_id, day)
    if query(location, "select count(*) from information_schema.tables where table_schema = 'main' "
                       "and table_name = 'orders'")[0][0]:
        assert query(location, "select count(*) from (select account_id, order_id from main.orders group by all "
                               "having count(*) > 1)")[0][0] == 0


def instance_settings(env: dict[str, str]) -> dict[str, str]:
    """What dagster.production.yaml reads from the environment: this process reads the instance with them."""
    return {k: v for k, v in env.items() if k.startswith("DAGSTER_PG_")}


def kill_group(proc: subprocess.Popen, env: dict[str, str], home: Path) -> None:
    """SIGKILL the worker and its dbt, then do what the daemon's run monitoring does when a worker is lost: mark its
    run failed and free the pool slots it held, so that the next run gets the `duckdb` slot."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with environ_added(instance_settings(env)), dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            instance.report_run_failed(run)
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def dbt_running(proc: subprocess.Popen) -> bool:
    """Whether the worker's dbt build (a process of its session) has started."""
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if os.getsid(int(stat.parent.name)) == proc.pid and b"dbt\x00build" in stat.read_bytes().replace(
                    b"/dbt\x00", b"dbt\x00"):
                return True
        except (OSError, ValueError):
            continue
    return False


def test_a_killed_worker_leaves_the_lake_consistent_and_two_workers_sharing_only_postgres_and_s3_finish_at_once(
        tmp_path, emulator, control, production, lake_env):
    env = production_env(tmp_path, emulator, production, "workers")
    first = datetime.now(UTC).date() - timedelta(days=8)
    last = first + timedelta(days=1)
    location = Settings.from_env(env).warehouse
    warehouse.connect(location).close()  # the lake exists before its workers start (docs/production.md)
    rng = random.Random(5)
    # A worker is killed during the extract stage's loads: after the first (day, account) is in, at a random moment.
    proc = start_worker(env, tmp_path / "machine", first, last, "acme-us,acme-eu")
    deadline = time.monotonic() + 300
    while not query(location, "select count(*) from information_schema.tables where table_name = 'order_pages'"
                    )[0][0] or not query(location, "select count(*) from raw.order_pages")[0][0]:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()[-3000:]
        time.sleep(0.1)
    time.sleep(rng.uniform(0.0, 1.0))
    assert proc.poll() is None, "the worker ended before it could be killed"
    kill_group(proc, env, tmp_path / "machine" / "dagster_home")
    loaded = query(location, "select count(distinct (account_id, partition_date)) from raw.order_pages")[0][0]
    assert 1 <= loaded < 4  # some partitions, not all: killed mid-stage
    raw_is_whole(location)
    # Again, while dbt writes the marts.
    proc = start_worker(env, tmp_path / "machine", first, last, "acme-us,acme-eu")
    deadline = time.monotonic() + 300
    while not dbt_running(proc):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()[-3000:]
        time.sleep(0.05)
    time.sleep(rng.uniform(1.0, 4.0))
    kill_group(proc, env, tmp_path / "machine" / "dagster_home")
    raw_is_whole(location)

    # Two other machines, one account each, sharing nothing but PostgreSQL and S3, run extraction, load, dbt and
    # exports at the same time. Both succeed and the marts equal the truth.
    workers = {a: start_worker(env, tmp_path / f"machine-{a}", first, last, a) for a in MARKETPLACES}
    for account_id, proc in workers.items():
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{account_id}: {out[-4000:]}"
    raw_is_whole(location)
    assert_marts_equal_truth(env, control, MARKETPLACES, first, 2)
    # Every worker's runs are in the one instance in PostgreSQL: the two killed ones failed, the rest succeeded.
    with environ_added(instance_settings(env)), \
            dg.DagsterInstance.from_config(str(tmp_path / "machine-acme-us" / "dagster_home")) as instance:
        runs = instance.get_runs()
        statuses = sorted(r.status.value for r in runs)
        assert statuses == ["FAILURE"] * 2 + ["SUCCESS"] * 5, statuses
        # The `duckdb` pool's one slot, claimed in PostgreSQL: the two last dbt steps ran one after the other.
        spans = sorted(span for r in runs if r.status == dg.DagsterRunStatus.SUCCESS
                       if (span := step_span(instance, r.run_id, "amazon_orders_dbt")))
        assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans
    # Landing and exports went to S3, and no worker wrote a warehouse file or any pipeline state of its own.
    s3 = boto3.client("s3", endpoint_url=production.s3_endpoint)
    files = {"/".join(o["Key"].split("/")[:2])
             for page in s3.get_paginator("list_objects_v2").paginate(Bucket="workers-files")
             for o in page.get("Contents", [])}
    assert {"landing/order_pages", "export/salesforce", "export/erp"} <= files
    assert not (tmp_path / "unused-local-state").exists()
    for machine in ("machine", *(f"machine-{a}" for a in MARKETPLACES)):
        left = {p.relative_to(tmp_path / machine).parts[0] for p in (tmp_path / machine).rglob("*") if p.is_file()}
        assert left == {"dagster_home"}, (machine, left)
