"""The DuckDB file as a Dagster resource: one pool for the pipeline's own steps, and patience with other holders."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from amazon_orders_pipeline import lake, warehouse
from amazon_orders_pipeline.settings import DEFAULT_LOCK_TIMEOUT_S

# dbt, the exports and the Python checks run in this Dagster concurrency pool, which dagster.yaml limits to one
# step at a time across all runs: such steps queue in Dagster, visibly, instead of starting processes that would
# wait for the turn. The raw load, short and run once per (day, account), takes only the turn.
DUCKDB_POOL = "duckdb"
# How often a step waiting for its turn tries the lock again: the turn passes to a waiter at once, not after a
# growing backoff (a backfill's loads queue for it one after another).
TURN_POLL_S = 0.05


class WarehouseLockedError(dg.Failure):
    """A Dagster Failure, so the step's error is this message rather than a stack of wrappers."""


def is_lock_conflict(error: Exception) -> bool:
    return isinstance(error, duckdb.IOException) and "Could not set lock" in str(error)


# This process's turns, by lock file: [file descriptor, depth]. A step that holds its turn and opens another
# connection (dbt's step reading counts after dbt) must not wait for itself.
_turns: dict[str, list[int]] = {}
_turns_lock = threading.Lock()


def _backoff(deadline: float, delay: float) -> float:
    time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
    return min(delay * 2, 5.0)


class WarehouseResource(DuckDBResource):
    """The warehouse: the DuckDB file (DUCKDB_PATH), used in turns, or DuckLake (WAREHOUSE_BACKEND=ducklake).

    On DuckLake there are no turns: writers on any machine commit through its transactions (lake.py), and the
    `duckdb` pool of a PostgreSQL-backed Dagster instance still runs one dbt build at a time. On the file:

    - The pipeline's own steps take turns through an exclusive lock on `<file>.lock`, held for as long as a step
      uses DuckDB (a whole dbt build included). This is what keeps them apart: the raw loads are not in the
      `duckdb` pool, and the pool's one slot can go to two runs that claim it in the same instant (Dagster's
      SQLite instance storage, as under `dagster dev`).
    - Other processes (an analyst's session, even a read-only one) do not take that lock, but DuckDB's own lock
      keeps writers out while they hold the file: opening it then waits with backoff.
    After DUCKDB_LOCK_TIMEOUT_S of either wait the step fails and says who holds the file.
    """

    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    # DuckLake (all three set, or none): see lake.LakeConfig.
    lake_catalog: str | None = None
    lake_data_path: str | None = None
    lake_s3_endpoint_url: str | None = None

    @property
    def lake(self) -> lake.LakeConfig | None:
        if not self.lake_catalog:
            return None
        return lake.LakeConfig(self.lake_catalog, self.lake_data_path or "", self.lake_s3_endpoint_url)

    @property
    def location(self) -> warehouse.Location:
        return self.lake or self.database

    def retrying(self, work, what: str, log: dg.DagsterLogManager | None = None):
        """`work()` (one whole transaction) once on the file; on the lake, again after a write conflict."""
        if self.lake is None:
            return work()
        return lake.retry_conflicts(work, what, log=log.warning if log else None)

    @contextmanager
    def turn(self, log: dg.DagsterLogManager | None = None) -> Iterator[None]:
        if self.lake is not None:
            yield
            return
        path = os.path.abspath(self.database) + ".lock"
        with _turns_lock:
            held = _turns.get(path)
            if held:
                held[1] += 1
        if not held:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            deadline, announced = time.monotonic() + self.lock_timeout_s, False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        raise WarehouseLockedError(
                            f"{self.database} stayed in use by another step of the pipeline for "
                            f"{self.lock_timeout_s:.0f} s (lock file {path}); raise DUCKDB_LOCK_TIMEOUT_S if "
                            "steps run that long") from None
                    if log and not announced:
                        log.info(f"{self.database} is in use by another step of the pipeline; waiting for it")
                        announced = True
                    time.sleep(TURN_POLL_S)
            with _turns_lock:
                _turns[path] = [fd, 1]
        try:
            yield
        finally:
            with _turns_lock:
                entry = _turns[path]
                entry[1] -= 1
                if entry[1] == 0:
                    del _turns[path]
                    fcntl.flock(entry[0], fcntl.LOCK_UN)
                    os.close(entry[0])

    def connect(self, read_only: bool = False, log: dg.DagsterLogManager | None = None
                ) -> duckdb.DuckDBPyConnection:
        if self.lake is not None:
            return warehouse.connect(self.lake, read_only=read_only, config=self.connection_config)
        deadline = time.monotonic() + self.lock_timeout_s
        delay, announced = 0.1, False
        while True:
            try:
                return warehouse.connect(self.database, read_only=read_only, config=self.connection_config)
            except duckdb.IOException as e:
                if not is_lock_conflict(e):
                    raise
                if time.monotonic() + delay > deadline:
                    raise WarehouseLockedError(
                        f"{self.database} stayed locked by another process for {self.lock_timeout_s:.0f} s: {e}. "
                        "Close the other session (analysts: open the file with `duckdb -readonly` only while no "
                        "run writes, or query a copy), or raise DUCKDB_LOCK_TIMEOUT_S.") from None
                if log and not announced:
                    log.warning(f"{self.database} is locked by another process; waiting up to "
                                f"{self.lock_timeout_s:.0f} s ({e})")
                    announced = True
                delay = _backoff(deadline, delay)

    @contextmanager
    def get_connection(self, read_only: bool = False, log: dg.DagsterLogManager | None = None
                       ) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.turn(log=log):
            conn = self.connect(read_only=read_only, log=log)
            try:
                yield conn
            finally:
                conn.close()

    def wait_until_free(self, log: dg.DagsterLogManager | None = None) -> None:
        """For dbt, which opens the file itself and does not wait: inside a turn, wait until other processes
        have let go of the file. Nothing to wait for on the lake."""
        if self.lake is None:
            self.connect(log=log).close()
