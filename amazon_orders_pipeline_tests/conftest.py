"""Fixtures: a real emulator on a free loopback port, a tmp DuckDB file and landing dir, an accounts file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import pytest
import requests

from amazon_orders_pipeline import local_runs, warehouse
from amazon_orders_pipeline.assets.dbt import DBT_PROJECT_DIR, dbt_executable, manifest_is_stale
from amazon_orders_pipeline.emulator import Emulator
from amazon_orders_pipeline.resources import SpApiResource, build_resources, emulator_refresh_token
from amazon_orders_pipeline.warehouse import replace_partition
from benchmarks.dagster_dev import free_port
from benchmarks.truth import marts_and_truth
from benchmarks.workdir import emulator_env

# Amazon's OpenAPI models reduced to their structure, and the sandbox cases (scripts/reduce_spapi_models.py).
MODELS = Path(__file__).resolve().parent / "spapi_models"
TWO_ACCOUNTS = """
accounts:
  - id: acme-us
    region: NA
    marketplace_ids: [ATVPDKIKX0DER]
    pii: false
  - id: acme-eu
    region: EU
    marketplace_ids: [A1F83G8C2ARO7P, A1PA6795UKMFR9]
    pii: true
"""


class EmulatorControl:
    """The emulator's test-only endpoints, over HTTP like any other client."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.url = emulator.url

    def set_clock(self, now: datetime) -> None:
        requests.post(f"{self.url}/_emulator/clock", json={"now": now.isoformat()}, timeout=10).raise_for_status()

    def faults(self, **plan) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=plan, timeout=10).raise_for_status()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_emulator/stats", timeout=10).json()

    def ground_truth(self, refresh_token: str, start: datetime, end: datetime, marketplace_ids=None) -> list[dict]:
        resp = requests.post(f"{self.url}/_emulator/ground_truth", json={
            "refresh_token": refresh_token, "last_updated_after": start.isoformat(),
            "last_updated_before": end.isoformat(), "marketplace_ids": list(marketplace_ids or [])}, timeout=60)
        resp.raise_for_status()
        return resp.json()["orders"]

    def ground_truth_day(self, account_id: str, day: date, marketplace_ids=None) -> list[dict]:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return self.ground_truth(emulator_refresh_token(account_id), start, start + timedelta(days=1),
                                 marketplace_ids)


@pytest.fixture
def emulator():
    # Fast quotas so tests finish quickly; the pacing itself is tested at its own speed.
    with Emulator(speed=2000, seed=7, orders_per_day=600) as emu:
        yield emu


@pytest.fixture
def control(emulator) -> EmulatorControl:
    return EmulatorControl(emulator)


@pytest.fixture
def past_day() -> date:
    return datetime.now(UTC).date() - timedelta(days=6)


@pytest.fixture
def pipeline_env(tmp_path, emulator) -> dict[str, str]:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    return emulator_env(emulator.url, tmp_path, accounts)


def test_resources(environ: dict[str, str]) -> dict:
    """The pipeline's resources, with retries that back off in milliseconds instead of seconds."""
    resources = build_resources(environ)
    base = resources["sp_api"]
    resources["sp_api"] = SpApiResource(accounts_file=base.accounts_file, endpoint=base.endpoint,
                                        lwa_token_url=base.lwa_token_url, retry_base_delay_s=0.01)
    return resources


def materialize_raw(environ: dict[str, str], day: date, account_id: str, instance=None,
                    raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return local_runs.materialize_raw(day, account_id, environ=environ, resources=test_resources(environ),
                                      instance=instance, raise_on_error=raise_on_error)


def materialize_transform(environ: dict[str, str], first: date, last: date | None = None, instance=None,
                          raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return local_runs.materialize_transform(first, last or first, environ=environ, resources=test_resources(environ),
                                            instance=instance, raise_on_error=raise_on_error)


def query(db: str, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(db, read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def orders_against_truth(db: str, control: EmulatorControl, account_id: str, start: datetime, end: datetime,
                         marketplace_ids: list[str]) -> tuple[list[tuple], list[tuple]]:
    """(marts, emulator) for one account's orders and order lines changed in [start, end), as
    `benchmarks.truth.marts_and_truth` compares them; orders the emulator changed again since `end` are left out."""
    token = emulator_refresh_token(account_id)
    truth = control.ground_truth(token, start, end, marketplace_ids)
    moved = {o["orderId"] for o in control.ground_truth(token, end, datetime.now(UTC) + timedelta(days=1),
                                                        marketplace_ids)}
    with duckdb.connect(db, read_only=True) as conn:
        return marts_and_truth(conn, account_id, truth, moved)


def raw_orders(db_path: str, account_id: str, day: date) -> list[dict]:
    """Every order in the raw pages of one partition, in page order."""
    with duckdb.connect(db_path, read_only=True) as conn:
        pages = conn.execute(
            "select page from raw.order_pages where account_id = ? and partition_date = ? order by page_number",
            [account_id, day]).fetchall()
    return [o for (page,) in pages for o in json.loads(page)["orders"]]


def load_pages(db: str, account_id: str, day: date, pages: list[dict]) -> None:
    """Synthetic searchOrders pages straight into the raw tables, as the raw asset would load them."""
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    rows = [(account_id, day, n, "2026-01-01", "test", json.dumps({"synthetic": True}), f"req-{n}",
             datetime(2026, 10, 2, tzinfo=UTC), len(p["orders"]), False, json.dumps(p))
            for n, p in enumerate(pages, start=1)]
    with warehouse.connect(db) as conn:
        replace_partition(conn, account_id, day, rows)


def spapi_model_file(name: str) -> Path:
    path = MODELS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: scripts/reduce_spapi_models.py writes Amazon's models there")
    return path


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest():
    """dbt's manifest, parsed once per session when missing or older than the project (as `make` does)."""
    project = DBT_PROJECT_DIR
    manifest = project / "target" / "manifest.json"
    if manifest_is_stale(project, manifest):
        subprocess.run([dbt_executable(), "parse", "--profiles-dir", "."], cwd=project,
                       check=True, capture_output=True, timeout=300)
    return manifest


@pytest.fixture(scope="session")
def orders_model() -> dict:
    return json.loads(spapi_model_file("orders_2026-01-01.json").read_text())


@pytest.fixture(scope="session")
def sandbox_cases() -> list[dict]:
    return json.loads(spapi_model_file("sandbox_cases.json").read_text())


@pytest.fixture
def moto_s3(monkeypatch):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=endpoint)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.create_bucket(Bucket="landing")
            break
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.2)
    yield endpoint, client
    proc.terminate()
    proc.wait(timeout=10)
