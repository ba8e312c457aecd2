"""The transform stage: dbt staging, intermediate and mart models as partitioned Dagster assets."""

import fcntl
import json
import os
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.dbt_project import using_dagster_dev

from amazon_orders_pipeline.warehouse_resource import DUCKDB_POOL, WarehouseResource

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

# Numeric metadata per model for the run's window ([start, end) of raw partition dates), so Dagster plots them
# per partition. Each query returns one row; its column names become the metadata keys.
WINDOW_METRICS_SQL = {
    "base_amazon_sp_api__order_records": """
        select count(*) as records, count(*) filter (where quarantine_reason is not null) as quarantined
        from staging.base_amazon_sp_api__order_records where partition_date >= ? and partition_date < ?""",
    "quarantine": """
        select count(*) as quarantined from staging.quarantine where partition_date >= ? and partition_date < ?""",
    "stg_amazon_sp_api__orders": """
        select count(*) as rows from staging.stg_amazon_sp_api__orders
        where partition_date >= ? and partition_date < ?""",
    "stg_amazon_sp_api__order_items": """
        select count(*) as rows from staging.stg_amazon_sp_api__order_items
        where partition_date >= ? and partition_date < ?""",
    "stg_amazon_sp_api__order_addresses": """
        select count(*) as rows from staging.stg_amazon_sp_api__order_addresses
        where partition_date >= ? and partition_date < ?""",
    "int_orders_latest": """
        select count(*) as rows, count(*) filter (where partition_date >= ? and partition_date < ?) as in_window
        from intermediate.int_orders_latest""",
    "orders": """
        select count(*) filter (where last_changed_partition >= ? and last_changed_partition < ?) as changed,
               count(*) as rows
        from main.orders""",
    "order_items": """
        select count(*) filter (where o.last_changed_partition >= ? and o.last_changed_partition < ?) as changed,
               count(*) as rows
        from main.order_items as i join main.orders as o using (account_id, order_id)""",
    "order_addresses": """
        select count(*) filter (where o.last_changed_partition >= ? and o.last_changed_partition < ?) as changed,
               count(*) as rows
        from main.order_addresses as a join main.orders as o using (account_id, order_id)""",
}


# What dbt parses: models, macros, tests, seeds and the project's own config.
DBT_SOURCE_SUFFIXES = (".sql", ".yml", ".yaml", ".csv", ".md")


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def manifest_is_stale(project_dir: Path, manifest: Path) -> bool:
    """The manifest is missing, or some file dbt parses changed after it was written."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for folder, subfolders, files in os.walk(project_dir):
        # Not into dbt's output (dagster-dbt leaves a folder per run in target/), logs or packages.
        subfolders[:] = [d for d in subfolders if d not in ("target", "logs", "dbt_packages")]
        if any(os.path.getmtime(os.path.join(folder, f)) > built for f in files if f.endswith(DBT_SOURCE_SUFFIXES)):
            return True
    return False


def prepare_if_stale(project: DbtProject) -> None:
    """Under `dagster dev`, parse the project when the manifest is missing or older than the project, as
    `DbtProject.prepare_if_dev` does, but only then. `prepare_if_dev` parses in every process that loads the
    definitions: the code server, and each run worker and step process too, about 5 s each on a small machine
    (a backfill of 140 raw runs spent most of its time parsing), with many writing one manifest.json at once.
    One process parses at a time; the others wait, then find the manifest fresh. Outside `dagster dev`, the
    manifest comes from `make` (`dbt parse`), as before."""
    if not using_dagster_dev() or not manifest_is_stale(project.project_dir, project.manifest_path):
        return
    project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
    with open(project.manifest_path.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if manifest_is_stale(project.project_dir, project.manifest_path):
                project.preparer.prepare(project)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def dbt_window_vars(start: date, end: date) -> dict[str, str]:
    """dbt's window vars: raw partition dates in [start, end), as Dagster's partition time window gives them."""
    if end <= start:
        raise ValueError(f"empty dbt window [{start}, {end})")
    return {"start_date": start.isoformat(), "end_date": end.isoformat()}


def dbt_build_args(start: date, end: date) -> list[str]:
    """The `dbt build` of one run: the window as vars, and no unit tests.

    - `--no-partial-parse`: dbt parses the whole project again whenever the vars differ from those of its saved
      parse, and a run's window vars always differ from the prepared project's (parsed without vars), which
      dagster-dbt copies into each run's target folder. Reading and rewriting that state would be wasted work
      (about 0.2 s a run).
    - No unit tests: they check the models' SQL on fixed inputs, so their result cannot change from one partition
      to the next. They run in the test suite (`make test`), not in every pipeline run, as dbt's docs advise."""
    return ["build", "--vars", json.dumps(dbt_window_vars(start, end), sort_keys=True), "--no-partial-parse",
            "--exclude-resource-type", "unit_test"]


class Translator(DagsterDbtTranslator):
    """Models are keyed by their name, sources by [source, table]; groups follow the stages."""

    def __init__(self, automation_condition: dg.AutomationCondition | None = None):
        super().__init__()
        self._automation_condition = automation_condition

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        return self._automation_condition if dbt_resource_props.get("resource_type") == "model" else None

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props.get("resource_type") == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "source":
            return "extract"
        return "marts" if "marts" in fqn else "staging"


def build_dbt_assets(partitions_def: dg.DailyPartitionsDefinition,
                     automation_condition: dg.AutomationCondition | None = None) -> dg.AssetsDefinition:
    project = dbt_project()
    prepare_if_stale(project)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        partitions_def=partitions_def,
        dagster_dbt_translator=Translator(automation_condition),
        # A backfill of many days is one dbt invocation over the whole range, not one per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=DUCKDB_POOL,
    )
    def amazon_orders_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: WarehouseResource):
        window = context.partition_time_window
        start, end = window.start.date(), window.end.date()
        # profiles.yml reads the warehouse path from here; absolute, because dbt runs in its project folder.
        os.environ["DBT_DUCKDB_PATH"] = str(Path(duckdb.database).resolve())
        with duckdb.turn(log=context.log):
            # dbt does not wait for a lock: wait here for other holders (analysts) to let go.
            duckdb.wait_until_free(log=context.log)
            # Materializations are held back until dbt has let go of the file, then sent with the window's counts.
            held = []
            try:
                for event in dbt.cli(dbt_build_args(start, end), context=context).stream():
                    if isinstance(event, dg.Output | dg.AssetMaterialization):
                        held.append(event)
                    else:
                        yield event
            except Exception:
                yield from held
                raise
            metrics = window_metrics(duckdb, start, end)
        for event in held:
            name = event.output_name if isinstance(event, dg.Output) else event.asset_key.path[-1]
            yield event.with_metadata({**event.metadata, **metrics.get(name, {})})

    return amazon_orders_dbt


def window_metrics(duckdb: WarehouseResource, start: date, end: date) -> dict[str, dict[str, int]]:
    """The WINDOW_METRICS_SQL counts of every model, by model name."""
    metrics = {}
    with duckdb.get_connection(read_only=True) as conn:
        for model, sql in WINDOW_METRICS_SQL.items():
            cursor = conn.execute(sql, [start, end])
            row = cursor.fetchone()
            metrics[model] = {d[0]: int(v) for d, v in zip(cursor.description, row, strict=True)}
    return metrics


def dbt_executable() -> str:
    """The dbt beside this Python (the project's venv), whatever else is on PATH."""
    return str(Path(sys.executable).parent / "dbt")


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), profiles_dir=str(DBT_PROJECT_DIR),
                          dbt_executable=dbt_executable())
