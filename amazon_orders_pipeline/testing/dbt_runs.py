"""dbt builds as a pipeline run makes them, measured (wall seconds, dbt's peak memory), and the warehouse back to
raw: used by the fault campaign, the transform benchmark and their tests."""

from __future__ import annotations

import subprocess
import time
from datetime import date

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.dbt_project import DBT_PROJECT_DIR, dbt_build_args, dbt_executable
from amazon_orders_pipeline.testing.dagster_dev import proc_status_mb


def peak_rss_mb(pid: int) -> float:
    """The process's own high-water RSS (VmHWM). Unlike ru_maxrss, it starts afresh at exec, so a child does not
    inherit the benchmark's own memory."""
    return proc_status_mb(pid, "VmHWM")


def run_measured(cmd: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a command to the end: (result, wall seconds, its peak RSS in MB, sampled until it exits)."""
    started = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs) as proc:
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, peak_rss_mb(proc.pid))
            time.sleep(0.05)
        stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), wall, peak


def run_dbt(db: warehouse.Location, first: date, end: date) -> tuple[float, float]:
    """One dbt build over [first, end), with the pipeline's own arguments: wall seconds and dbt's peak RSS in MB.

    Those arguments make dbt parse the project afresh (`--no-partial-parse`), as it must in every Dagster run,
    whose window vars differ from those of any saved parse; so a second build over the same window cannot reuse
    the first one's parse and look faster than a real run."""
    proc, wall, peak = run_measured([dbt_executable(), *dbt_build_args(first, end, database=db),
                                     "--profiles-dir", str(DBT_PROJECT_DIR), "--quiet"], cwd=DBT_PROJECT_DIR)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt build failed:\n{proc.stdout[-3000:]}")
    return wall, peak


# What a dbt build creates: the staging and intermediate schemas whole, and the marts in `main` (named after the
# project's mart models, so the statements are built from the repository, never from what a database holds).
DROP_BUILT = ["drop schema if exists staging cascade", "drop schema if exists intermediate cascade",
              *(f"drop table if exists main.{model.stem}"
                for model in sorted((DBT_PROJECT_DIR / "models").glob("**/marts/*.sql"))),
              "drop table if exists main.finance_amount_types"]


def drop_built(db: warehouse.Location) -> None:
    """Back to the state before the first dbt build: only the `raw` schema left."""
    with warehouse.connect(db) as conn:
        for statement in DROP_BUILT:
            conn.execute(statement)
        if not warehouse.is_lake(conn):
            conn.execute("checkpoint")
