"""Fixtures: a real emulator on a free loopback port, a tmp DuckDB file and landing dir, an accounts file, Amazon's
models, a moto S3 server. Helpers live in amazon_orders_pipeline.testing."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest

from amazon_orders_pipeline.dbt_project import DBT_PROJECT_DIR, dbt_executable, manifest_is_stale
from amazon_orders_pipeline.emulator import Emulator
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS, emulator_env, free_port

from .spapi_models import load as load_model


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
    return load_model("orders_2026-01-01.json")


@pytest.fixture(scope="session")
def sandbox_cases() -> list[dict]:
    return load_model("sandbox_cases.json")


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
