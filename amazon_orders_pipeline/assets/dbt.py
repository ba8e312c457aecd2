"""The transform stage: dbt staging, intermediate and mart models as partitioned Dagster assets."""

import json
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_duckdb import DuckDBResource

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_window_vars(start: date, end: date) -> dict[str, str]:
    """dbt's window vars: raw partition dates in [start, end), as Dagster's partition time window gives them."""
    if end <= start:
        raise ValueError(f"empty dbt window [{start}, {end})")
    return {"start_date": start.isoformat(), "end_date": end.isoformat()}


def dbt_build_args(start: date, end: date) -> list[str]:
    return ["build", "--vars", json.dumps(dbt_window_vars(start, end), sort_keys=True)]


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
    project.prepare_if_dev()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        partitions_def=partitions_def,
        dagster_dbt_translator=Translator(automation_condition),
        # A backfill of many days is one dbt invocation over the whole range, not one per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def amazon_orders_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: DuckDBResource):
        window = context.partition_time_window
        # profiles.yml reads the warehouse path from here; absolute, because dbt runs in its project folder.
        os.environ["DBT_DUCKDB_PATH"] = str(Path(duckdb.database).resolve())
        yield from dbt.cli(dbt_build_args(window.start.date(), window.end.date()), context=context).stream()

    return amazon_orders_dbt


def dbt_resource() -> DbtCliResource:
    import sys

    return DbtCliResource(project_dir=dbt_project(), profiles_dir=str(DBT_PROJECT_DIR),
                          dbt_executable=str(Path(sys.executable).parent / "dbt"))
