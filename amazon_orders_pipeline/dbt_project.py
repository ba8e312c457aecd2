"""The dbt project as the pipeline sees it: where it is, its manifest and model layers, the arguments of a run."""

from __future__ import annotations

import fcntl
import json
import os
import sys
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import using_dagster_dev

from amazon_orders_pipeline.settings import LakeConfig

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


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


def dbt_build_args(start: date, end: date, database: str | Path | LakeConfig | None = None,
                   full_refresh: bool = False) -> list[str]:
    """The `dbt build` of one run: the window (and the warehouse, when given) as vars, and no unit tests.

    - The warehouse goes to profiles.yml as the `duckdb_path` var (absolute, because dbt runs in its project folder),
      so that no process environment is changed to tell dbt where it is. A DuckLake is profiles.yml's `lake`
      target, with where it is as vars (LakeConfig.dbt_vars: no credential; those are boto3's and libpq's).
    - `full_refresh`: the incremental models are rebuilt from raw over the window, as after a change to their
      columns (dbt's `--full-refresh`).

    - `--no-partial-parse`: dbt parses the whole project again whenever the vars differ from those of its saved
      parse, and a run's window vars always differ from the prepared project's (parsed without vars), which
      dagster-dbt copies into each run's target folder. Reading and rewriting that state would be wasted work
      (about 0.2 s a run).
    - No unit tests: they check the models' SQL on fixed inputs, so their result cannot change from one partition
      to the next. They run in the test suite (`make test`), not in every pipeline run, as dbt's docs advise."""
    dbt_vars = dbt_window_vars(start, end)
    target = []
    if isinstance(database, LakeConfig):
        dbt_vars.update(database.dbt_vars())
        target = ["--target", "lake"]
    elif database is not None:
        dbt_vars["duckdb_path"] = str(Path(database).resolve())
    return ["build", *target, "--vars", json.dumps(dbt_vars, sort_keys=True), "--no-partial-parse",
            "--exclude-resource-type", "unit_test", *(["--full-refresh"] if full_refresh else [])]


def dbt_executable() -> str:
    """The dbt beside this Python (the project's venv), whatever else is on PATH."""
    return str(Path(sys.executable).parent / "dbt")



@dataclass(frozen=True)
class Model:
    """A dbt model as the manifest names it: where it is built, and its layer (the folder under models/)."""

    name: str
    schema: str
    alias: str
    layer: str


def models(manifest: Path = MANIFEST) -> list[Model]:
    """Every model of the project, from dbt's manifest, in name order."""
    return _models(manifest, manifest.stat().st_mtime if manifest.exists() else 0.0)


@cache
def _models(manifest: Path, _mtime: float) -> list[Model]:
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return sorted((Model(n["name"], n["schema"], n["alias"], n["fqn"][1]) for n in nodes
                   if n["resource_type"] == "model"), key=lambda m: m.name)

