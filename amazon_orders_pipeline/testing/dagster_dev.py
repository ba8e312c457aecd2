"""`dagster dev` as data engineers run it, driven over GraphQL: started on a free loopback port with a DAGSTER_HOME
of its own, watched (processes, memory), and stopped with everything it started. Shared by the UI tests and the
load benchmark."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import requests

from amazon_orders_pipeline.local_services import free_port

REPO = Path(__file__).resolve().parents[2]
BACKFILL_DONE = ("COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")
LOCK_ERRORS = ("Could not set lock", "Conflicting lock")

WORKSPACE_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""


class DagsterDev:
    """A running `dagster dev`: its GraphQL endpoint, the instance it writes, and the processes it leads."""

    def __init__(self, url: str, home: Path, env: dict[str, str], log: Path, proc: subprocess.Popen):
        self.url, self.home, self.env, self.log, self.proc = url, home, env, log, proc

    def graphql(self, query_text: str, variables: dict | None = None) -> dict:
        resp = requests.post(f"{self.url}/graphql", json={"query": query_text, "variables": variables or {}},
                             timeout=60)
        if resp.status_code >= 400:
            raise AssertionError(f"GraphQL answered {resp.status_code}: {resp.text[:2000]}")
        body = resp.json()
        if "errors" in body:
            raise AssertionError(body["errors"])
        return body["data"]

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def processes(self) -> list[int]:
        return session_processes(self.proc.pid)

    def rss_mb(self) -> float:
        """Resident memory of every process of the session right now (webserver, daemon, code servers, runs and
        their steps), in MB."""
        return sum(rss_mb(pid) for pid in self.processes())

    def backfill(self, asset_keys: list[list[str]], title: str, timeout_s: float,
                 on_tick: Callable[[], None] | None = None, every_s: float = 2.0,
                 days: tuple[date, date, list[str]] | None = None) -> BackfillOutcome:
        """A backfill of every partition of these assets, launched as the UI's "Materialize all" launches it and
        run by the daemon, followed until it ends (or `timeout_s` passes); `on_tick` is called while it runs.
        `days`: (first day, last day, the accounts in file order) for those days only, as the UI's range picker
        does, instead of every partition up to today's."""
        params: dict = {"title": title}
        if days is None:
            params.update(assetSelection=[{"path": k} for k in asset_keys], allPartitions=True)
        else:  # the asset selection is then the ranges' assets (Dagster refuses both)
            params["partitionsByAssets"] = self._ranges(asset_keys, *days)
        launched = self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise AssertionError(launched)
        started = time.monotonic()
        backfill_id = launched["backfillId"]
        instance = self.instance()
        while True:
            backfill = instance.get_backfill(backfill_id)
            if backfill.status.value in BACKFILL_DONE or time.monotonic() - started > timeout_s:
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"dagster dev exited with {self.proc.returncode}:\n{self.log_tail()}")
            if on_tick:
                on_tick()
            time.sleep(every_s)
        wall = time.monotonic() - started
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        return BackfillOutcome(backfill.status.value, runs, {r.run_id: instance.all_logs(r.run_id) for r in runs},
                               {r.run_id: run_span(instance, r) for r in runs}, wall)

    @staticmethod
    def _ranges(asset_keys: list[list[str]], first: date, last: date, accounts: list[str]) -> list[dict]:
        out = []
        for key in asset_keys:
            multi = key[0] == "amazon_sp_api"  # date x account: a range spans both dimensions
            start, end = (f"{accounts[0]}|{first.isoformat()}", f"{accounts[-1]}|{last.isoformat()}") if multi \
                else (first.isoformat(), last.isoformat())
            out.append({"assetKey": {"path": key}, "partitions": {"range": {"start": start, "end": end}}})
        return out

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def wait_until_loaded(self, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        status = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dagster dev exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                entries = self.graphql(WORKSPACE_STATUS)["workspaceOrError"]["locationEntries"]
                status = entries
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    error = entries[0]["locationOrLoadError"]
                    if error["__typename"] != "RepositoryLocation":
                        raise AssertionError(error)
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise AssertionError(f"the code location did not load in {timeout_s} s: {status}\n{self.log_tail()}")


@dataclass
class BackfillOutcome:
    """How a backfill ended, and its runs with their events and (start, end) times."""

    status: str
    runs: list[dg.DagsterRun]
    events: dict[str, list]
    spans: dict[str, tuple[float, float]]
    wall_s: float

    @property
    def failed(self) -> dict[str, str]:
        """The runs that did not succeed, with the end of their event log."""
        return {r.run_id: event_texts(self.events[r.run_id])[-2000:] for r in self.runs
                if r.status != dg.DagsterRunStatus.SUCCESS}

    @property
    def lock_errors(self) -> list[str]:
        """The runs in which some step met DuckDB's file lock."""
        return [r.run_id for r in self.runs if any(s in event_texts(self.events[r.run_id]) for s in LOCK_ERRORS)]

    @property
    def raw_runs(self) -> list[dg.DagsterRun]:
        """The extract stage's runs: one (day, account) partition, or a backfill's range of them."""
        return [r for r in self.runs if "dagster/partition/account" in r.tags
                or "|" in r.tags.get("dagster/asset_partition_range_start", "")]

    @property
    def all_multiprocess(self) -> bool:
        """Every run used the multiprocess executor: each of its steps ran in a process of its own."""
        return all(any("using multiprocess executor" in (e.user_message or "") for e in self.events[r.run_id])
                   for r in self.runs)

    @property
    def most_in_flight(self) -> int:
        """The most runs that were in flight at one moment."""
        edges = sorted([(start, 1) for start, _ in self.spans.values()] +
                       [(end, -1) for _, end in self.spans.values()], key=lambda e: (e[0], e[1]))
        most = now = 0
        for _, step in edges:
            now += step
            most = max(most, now)
        return most

    @property
    def steps(self) -> list[tuple[float, float, str]]:
        return [s for r in self.runs for s in step_spans(self.events[r.run_id])]


@contextmanager
def dagster_dev(env: dict[str, str], home: Path, log: Path, cwd: Path = REPO,
                dagster_yaml: str | None = None) -> Iterator[DagsterDev]:
    """`dagster dev -w workspace.yaml` with DAGSTER_HOME=`home` (the repository's dagster.yaml, or `dagster_yaml`),
    loaded and ready; on exit, the whole session is stopped and must be gone."""
    home.mkdir(parents=True, exist_ok=True)
    if dagster_yaml is None:
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(dagster_yaml)
    env = {
        **os.environ, **env,
        # dagster-dbt re-parses the project under `dagster dev` and looks for dbt on PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(home),
    }
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
             "-p", str(port)],
            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = DagsterDev(f"http://127.0.0.1:{port}", home, env, log, proc)
    try:
        server.wait_until_loaded()
        yield server
    finally:
        left = stop_session(proc)
        if left:
            raise AssertionError(f"processes of dagster dev still running after SIGKILL: {left}")


def session_processes(sid: int) -> list[int]:
    """Every live process of a session (field 6 of /proc/<pid>/stat)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def proc_status_mb(pid: int, field: str) -> float:
    """A memory figure of a process from /proc/<pid>/status (VmRSS now, VmHWM its high-water mark), in MB; 0 once
    it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    """A process's resident memory now, in MB."""
    return proc_status_mb(pid, "VmRSS")


def stop_session(proc: subprocess.Popen) -> list[int]:
    """SIGTERM the whole session `dagster dev` leads (webserver, daemon, code servers, runs), then SIGKILL what is
    left. Returns the processes still alive afterwards."""
    for sig, grace in ((signal.SIGTERM, 60), (signal.SIGKILL, 10)):
        for pid in session_processes(proc.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and session_processes(proc.pid):
            time.sleep(0.5)
        if proc.poll() is None:
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        if not session_processes(proc.pid):
            break
    return session_processes(proc.pid)


def wait_for_run(instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run and run.is_finished:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s")


def event_texts(events) -> str:
    texts = []
    for e in events:
        texts.append(e.user_message or "")
        if e.dagster_event and e.dagster_event.event_specific_data is not None:
            texts.append(str(e.dagster_event.event_specific_data))
    return "\n".join(texts)


def run_span(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[float, float]:
    record = instance.get_run_record_by_id(run.run_id)
    return record.start_time or 0.0, record.end_time or 0.0


def step_spans(events) -> list[tuple[float, float, str]]:
    """(start, end, step key) of every step that ran, from its STEP_START and its success or failure."""
    starts, spans = {}, []
    for e in events:
        if not e.is_dagster_event:
            continue
        kind = e.dagster_event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            starts[e.step_key] = e.timestamp
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE) and e.step_key in starts:
            spans.append((starts[e.step_key], e.timestamp, e.step_key))
    return spans
