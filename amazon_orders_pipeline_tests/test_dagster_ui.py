"""`dagster dev` as data engineers run it, on a free loopback port with a temporary DAGSTER_HOME holding the
repository's dagster.yaml: the asset graph in headless Chromium, one partition launched as the UI launches it, and a
14-day x 2-account backfill run by the daemon with the multiprocess executor."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import requests

from amazon_orders_pipeline.emulator import Emulator

from .conftest import TWO_ACCOUNTS, EmulatorControl, free_port, orders_against_truth, query

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# What the probe found necessary on these machines: no sandbox as root, no GPU, and no calls to Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BACKFILL_DAYS = 14
GROUPS = {
    "extract": ["landed_order_pages", "order_pages", "order_records"],
    "staging": ["base_amazon_sp_api__order_records", "stg_amazon_sp_api__orders", "stg_amazon_sp_api__order_items",
                "stg_amazon_sp_api__order_addresses", "quarantine", "transform_windows", "int_orders_latest"],
    "marts": ["orders", "order_items", "order_addresses"],
    "exports": ["salesforce_order_export", "erp_sales_order_export"],
}
LOCK_ERRORS = ("Could not set lock", "Conflicting lock")


class DagsterDev:
    """A running `dagster dev` and what the tests need from it: GraphQL, and the instance it writes."""

    def __init__(self, url: str, home: Path, env: dict[str, str], emulator: Emulator, first_day, log: Path):
        self.url, self.home, self.env, self.first_day, self.log = url, home, env, first_day, log
        self.control = EmulatorControl(emulator)

    def graphql(self, query_text: str, variables: dict | None = None) -> dict:
        resp = requests.post(f"{self.url}/graphql", json={"query": query_text, "variables": variables or {}},
                             timeout=60)
        resp.raise_for_status()
        body = resp.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))


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


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagster_dev")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    (tmp / "accounts.yaml").write_text(TWO_ACCOUNTS)
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=BACKFILL_DAYS)
    port = free_port()
    log = tmp / "dagster-dev.log"
    with Emulator(speed=2000, seed=11, orders_per_day=300) as emulator:
        env = {
            **os.environ,
            # dagster-dbt re-parses the project under `dagster dev` and looks for dbt on PATH.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "DAGSTER_HOME": str(home),
            "ACCOUNTS_FILE": str(tmp / "accounts.yaml"),
            "DUCKDB_PATH": str(tmp / "warehouse" / "orders.duckdb"),
            "LANDING_DIR": str(tmp / "landing"),
            "EXPORT_DIR": str(tmp / "exports"),
            "SP_API_ENDPOINT": emulator.url,
            "LWA_TOKEN_URL": f"{emulator.url}/auth/o2/token",
            "PARTITIONS_START_DATE": first_day.isoformat(),
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
                 "-p", str(port)],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        server = DagsterDev(f"http://127.0.0.1:{port}", home, env, emulator, first_day, log)
        try:
            wait_for_location(server, proc)
            yield server
        finally:
            left = stop_session(proc)
            assert not left, f"processes of dagster dev still running after SIGKILL: {left}"


def wait_for_location(server: DagsterDev, proc: subprocess.Popen, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dagster dev exited with {proc.returncode}:\n{server.log.read_text()[-4000:]}")
        try:
            data = server.graphql(WORKSPACE_STATUS)
            entries = data["workspaceOrError"]["locationEntries"]
            status = entries
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                error = entries[0]["locationOrLoadError"]
                assert error["__typename"] == "RepositoryLocation", error
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"the code location did not load in {timeout_s} s: {status}\n"
                         f"{server.log.read_text()[-4000:]}")


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


def wait_for_run(instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run and run.is_finished:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s")


def run_events(instance: dg.DagsterInstance, run_id: str) -> list:
    return instance.all_logs(run_id)


def event_texts(events) -> str:
    texts = []
    for e in events:
        texts.append(e.user_message or "")
        if e.dagster_event and e.dagster_event.event_specific_data is not None:
            texts.append(str(e.dagster_event.event_specific_data))
    return "\n".join(texts)


def test_the_asset_graph_shows_every_group_and_asset_and_a_partition_launched_from_it_succeeds(dagster_dev):
    from playwright.sync_api import sync_playwright

    dagster_dev.graphql("mutation { setNuxSeen }")  # the first-visit dialog would cover the graph
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 2400, "height": 1600})
            page.goto(f"{dagster_dev.url}/asset-groups", wait_until="domcontentloaded")
            try:
                for group, assets in GROUPS.items():
                    # The sidebar's tree lists the groups (the graph shows them collapsed, with counts). A
                    # group's caret sits just left of its folder icon; opening it lists the group's assets, whose
                    # names are truncated in the middle but carried whole in their title.
                    row = page.locator(f'[title="{group}"]').first
                    row.wait_for(timeout=60_000)
                    icon = row.locator("xpath=preceding-sibling::*[@aria-label='asset_group']").bounding_box()
                    page.mouse.click(icon["x"] - 12, icon["y"] + icon["height"] / 2)
                    for name in assets:
                        page.locator(f'[title="{name}"]').first.wait_for(timeout=30_000)
                # And the graph: one box per group.
                for group in GROUPS:
                    node = page.get_by_text(group, exact=True).last
                    assert node.is_visible(), group
            finally:
                page.screenshot(path=str(ARTIFACTS / "asset-graph.png"), full_page=True)

            # One raw partition, launched the way the UI's "Materialize" dialog does: a run of the daily_extract
            # job tagged with the partition.
            day = (dagster_dev.first_day + timedelta(days=BACKFILL_DAYS - 2)).isoformat()
            key = dg.MultiPartitionKey({"date": day, "account": "acme-us"})
            tags = [{"key": "dagster/partition", "value": str(key)},
                    {"key": "dagster/partition/date", "value": day},
                    {"key": "dagster/partition/account", "value": "acme-us"}]
            launched = dagster_dev.graphql(LAUNCH_RUN, {"params": {
                "selector": {"repositoryLocationName": "amazon_orders_pipeline.definitions",
                             "repositoryName": "__repository__", "jobName": "daily_extract"},
                "executionMetadata": {"tags": tags}}})["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]
            run = wait_for_run(dagster_dev.instance(), run_id, timeout_s=300)
            page.goto(f"{dagster_dev.url}/runs/{run_id}", wait_until="domcontentloaded")
            page.get_by_text("Success", exact=False).first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "partition-run.png"), full_page=True)
        finally:
            browser.close()
    assert run.status == dg.DagsterRunStatus.SUCCESS, event_texts(run_events(dagster_dev.instance(), run_id))[-3000:]
    rows = query(dagster_dev.env["DUCKDB_PATH"], "select count(*), sum(order_count) from raw.order_pages "
                                                 "where account_id = 'acme-us' and partition_date = ?", [day])
    assert rows[0][0] > 0 and rows[0][1] == len(dagster_dev.control.ground_truth_day("acme-us", day_of(day),
                                                                                   ["ATVPDKIKX0DER"]))


def day_of(text: str):
    return datetime.fromisoformat(text).date()


def test_a_backfill_of_14_days_and_2_accounts_runs_in_parallel_without_a_lock_error(dagster_dev):
    keys = [{"path": ["amazon_sp_api", name]} for name in GROUPS["extract"]]
    keys += [{"path": [name]} for group in ("staging", "marts", "exports") for name in GROUPS[group]]
    launched = dagster_dev.graphql(LAUNCH_BACKFILL, {"params": {
        "assetSelection": keys, "allPartitions": True, "title": "14 days x 2 accounts"}})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    instance = dagster_dev.instance()
    deadline = time.monotonic() + 1500
    while time.monotonic() < deadline:
        backfill = instance.get_backfill(backfill_id)
        if backfill.status.value in ("COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
            break
        time.sleep(2)
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    events = {run.run_id: run_events(instance, run.run_id) for run in runs}
    failed = {r.run_id: event_texts(events[r.run_id])[-2000:] for r in runs
              if r.status != dg.DagsterRunStatus.SUCCESS}
    assert backfill.status.value == "COMPLETED_SUCCESS", (backfill.status, failed)
    assert not failed
    assert not [r.run_id for r in runs if any(s in event_texts(events[r.run_id]) for s in LOCK_ERRORS)]

    raw_runs = [r for r in runs if "dagster/partition/account" in r.tags]
    assert len(raw_runs) == BACKFILL_DAYS * 2
    # Every run used the multiprocess executor: each step ran in a process of its own.
    for run in runs:
        assert any("using multiprocess executor" in (e.user_message or "") for e in events[run.run_id]), run.run_id

    # Runs overlapped in time (extraction runs in parallel), yet no step ever met DuckDB's lock: the pool and the
    # pipeline's turns kept the steps that use the file apart.
    spans = sorted(run_span(instance, r) for r in runs)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)), "no two runs were in flight at once"
    assert len([s for r in runs for s in step_spans(events[r.run_id])]) >= len(runs) * 2

    db = dagster_dev.env["DUCKDB_PATH"]
    start = datetime.combine(dagster_dev.first_day, datetime.min.time(), tzinfo=UTC)
    for account_id, marketplaces in (("acme-us", ["ATVPDKIKX0DER"]),
                                     ("acme-eu", ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"])):
        got, expected = orders_against_truth(db, dagster_dev.control, account_id, start,
                                             start + timedelta(days=BACKFILL_DAYS), marketplaces)
        assert got == expected and got


def run_span(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[float, float]:
    record = instance.get_run_record_by_id(run.run_id)
    return record.start_time, record.end_time


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
