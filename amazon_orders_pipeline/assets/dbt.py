"""The transform stage: dbt staging, intermediate and mart models as partitioned Dagster assets."""

import json
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from amazon_orders_pipeline import lake
from amazon_orders_pipeline.dbt_project import Model, dbt_build_args, dbt_project, models, prepare_if_stale
from amazon_orders_pipeline.warehouse import ensure_raw_schema
from amazon_orders_pipeline.warehouse_resource import DUCKDB_POOL, WarehouseResource

# Numeric metadata per model for the run's window ([start, end) of raw partition dates), so Dagster plots them per
# partition. Which counts a model gets follows from its columns (all those a count names), so a new model gets them
# without a line here.
WINDOW_COUNTS = {
    ("partition_date",): "count(*) filter (where partition_date >= $start and partition_date < $end) as in_window",
    ("last_changed_partition",): ("count(*) filter (where last_changed_partition >= $start "
                                  "and last_changed_partition < $end) as changed"),
    ("quarantine_reason", "partition_date"): ("count(*) filter (where quarantine_reason is not null "
                                              "and partition_date >= $start and partition_date < $end) as quarantined"),
    # The money: amounts whose name the mapping does not know, Amazon's fees, and orders with a refund, per posted day.
    ("category", "partition_date"): ("count(*) filter (where category = 'unmapped' and partition_date >= $start "
                                     "and partition_date < $end) as unmapped, "
                                     "count(*) filter (where category in ('commission', 'fba_fulfillment_fee', "
                                     "'shipping_chargeback', 'other_fee', 'storage', 'subscription', 'inbound') "
                                     "and partition_date >= $start and partition_date < $end) as fees"),
    ("refund_count", "last_changed_partition"): ("count(*) filter (where refund_count > 0 and "
                                                 "last_changed_partition >= $start and last_changed_partition < $end) "
                                                 "as refunded"),
}


# The subjects whose models live in a folder of their own (models/<subject>) and are a Dagster group of that name.
SUBJECT_GROUPS = ("finances", "returns")

# The op behind the dbt assets, as run config names it: `ops: {amazon_orders_dbt: {config: {full_refresh: true}}}`.
DBT_ASSETS_OP = "amazon_orders_dbt"


class DbtRunConfig(dg.Config):
    """Run config of the dbt assets (the Launchpad's `ops: amazon_orders_dbt: config:`)."""

    full_refresh: bool = False  # rebuild the incremental models from raw over the window (dbt's --full-refresh)


class Translator(DagsterDbtTranslator):
    """Models are keyed by their name, sources by [source, table]; groups follow the stages. The models of a
    subject with a folder of its own (models/finances, models/returns) are a group of that name, with the automation
    condition `group_conditions` gives it (their days are not the orders' days)."""

    def __init__(self, automation_condition: dg.AutomationCondition | None = None,
                 group_conditions: Mapping[str, dg.AutomationCondition] | None = None):
        super().__init__()
        self._automation_condition = automation_condition
        self._group_conditions = dict(group_conditions or {})

    def _subject(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        return next((group for group in SUBJECT_GROUPS if group in fqn), None)

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        if dbt_resource_props.get("resource_type") != "model":
            return None
        subject = self._subject(dbt_resource_props)
        return self._group_conditions.get(subject, self._automation_condition) if subject \
            else self._automation_condition

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props.get("resource_type") == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "source":
            return "extract"
        if subject := self._subject(dbt_resource_props):  # the money (docs/money.md), returns (docs/returns.md)
            return subject
        return "marts" if "marts" in fqn else "staging"


def build_dbt_assets(partitions_def: dg.DailyPartitionsDefinition,
                     automation_condition: dg.AutomationCondition | None = None,
                     group_conditions: Mapping[str, dg.AutomationCondition] | None = None) -> dg.AssetsDefinition:
    project = dbt_project()
    prepare_if_stale(project)

    @dbt_assets(
        name=DBT_ASSETS_OP,
        manifest=project.manifest_path,
        project=project,
        partitions_def=partitions_def,
        dagster_dbt_translator=Translator(automation_condition, group_conditions),
        # A backfill of many days is one dbt invocation over the whole range, not one per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=DUCKDB_POOL,
    )
    def amazon_orders_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: WarehouseResource,
                          config: DbtRunConfig):
        window = context.partition_time_window
        start, end = window.start.date(), window.end.date()
        args = dbt_build_args(start, end, database=duckdb.location, full_refresh=config.full_refresh)
        with duckdb.turn(log=context.log):
            # dbt does not wait for a lock: wait here for other holders (analysts) to let go.
            duckdb.wait_until_free(log=context.log)
            # Every raw table the sources name exists before dbt reads it, empty if nothing has landed yet: a run of
            # models whose raw stage never ran (the settlements' before the first download, say) builds them empty
            # instead of failing on a missing table.
            with duckdb.get_connection(log=context.log) as conn:
                ensure_raw_schema(conn)
            # Materializations are held back until dbt has let go of the file, then sent with the window's counts.
            held = []
            if duckdb.lake is None:
                try:
                    for event in dbt.cli(args, context=context).stream():
                        if isinstance(event, dg.Output | dg.AssetMaterialization):
                            held.append(event)
                        else:
                            yield event
                except Exception:
                    yield from held
                    raise
            else:
                events, failure = lake_build(context, dbt, args)
                held = [e for e in events if isinstance(e, dg.Output | dg.AssetMaterialization)]
                yield from (e for e in events if not isinstance(e, dg.Output | dg.AssetMaterialization))
                if failure:
                    yield from held
                    raise failure
            metrics = window_metrics(duckdb, start, end)
        for event in held:
            name = event.output_name if isinstance(event, dg.Output) else event.asset_key.path[-1]
            yield event.with_metadata({**event.metadata, **metrics.get(name, {})})

    return amazon_orders_dbt


class BuildConflict(Exception):
    """A dbt build on DuckLake in which a model's commit lost to another writer's."""

    def __init__(self, events: list, errors: list[str]):
        super().__init__(errors[0])
        self.events, self.errors = events, errors


def lake_build(context: dg.AssetExecutionContext, dbt: DbtCliResource, args: list[str]
               ) -> tuple[list, dg.Failure | None]:
    """The dbt build on DuckLake: the events of its last attempt, and the failure when that attempt failed too.

    - dbt's target and logs go to a folder of the run's own, removed afterwards: a worker keeps no state.
    - A model whose commit lost to another writer (lake.is_conflict, in dbt's run results) is built again by running
      the whole build again, through lake.retry_conflicts: every model replaces its window, so a second build
      converges on the same tables. Its events are sent only from the build that succeeded, so no check or
      materialization is reported twice."""

    def build() -> tuple[list, dg.Failure | None]:
        with tempfile.TemporaryDirectory(prefix="dbt-target-") as target:
            invocation = dbt.cli(args, context=context, target_path=Path(target), raise_on_error=False)
            events = list(invocation.stream())
            if invocation.is_successful():
                return events, None
            errors = failed_results(Path(target) / "run_results.json")
            if any(lake.is_conflict_message(message) for message in errors):
                raise BuildConflict(events, errors)
            return events, dg.Failure(f"dbt build failed: {'; '.join(errors[:3]) or 'see the run logs'}")

    try:
        return lake.retry_conflicts(build, "dbt build", context.log.warning,
                                    retryable=lambda e: isinstance(e, BuildConflict))
    except lake.LakeConflictError as e:
        conflict = e.__cause__
        assert isinstance(conflict, BuildConflict)
        return conflict.events, dg.Failure(f"dbt build failed: {e}")


def failed_results(run_results: Path) -> list[str]:
    """The messages of the nodes dbt reports as error or fail."""
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text()).get("results", [])
    return [f"{r.get('unique_id')}: {r.get('message')}" for r in results if r.get("status") in ("error", "fail")]


def window_metrics(duckdb: WarehouseResource, start: date, end: date) -> dict[str, dict[str, int]]:
    """Counts of every model the manifest names, by model name: its rows, and the WINDOW_COUNTS its columns allow."""
    metrics = {}
    with duckdb.get_connection(read_only=True) as conn:
        columns = {}
        for schema, table, column in conn.execute(
                "select table_schema, table_name, column_name from information_schema.columns").fetchall():
            columns.setdefault((schema, table), set()).add(column)
        for model in models():
            present = columns.get((model.schema, model.alias))
            if present is not None:
                metrics[model.name] = model_counts(conn, model, present, start, end)
    return metrics


def model_counts(conn, model: Model, columns: set[str], start: date, end: date) -> dict[str, int]:
    # The select list is made of WINDOW_COUNTS' fixed expressions; the relation and the window are parameters.
    counts = ["count(*) as rows", *(sql for needed, sql in WINDOW_COUNTS.items() if set(needed) <= columns)]
    params = {"relation": f'"{model.schema}"."{model.alias}"'}
    if len(counts) > 1:
        params.update(start=start, end=end)
    cursor = conn.execute("select " + ", ".join(counts) + " from query_table($relation)", params)
    row = cursor.fetchone()
    return {d[0]: int(v) for d, v in zip(cursor.description, row, strict=True)}
