"""Fixtures: a real emulator on a free loopback port, a tmp DuckDB file and landing dir, an accounts file, Amazon's
models, a moto S3 server. Helpers live in amazon_orders_pipeline.testing."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest

from amazon_orders_pipeline.dbt_project import DBT_PROJECT_DIR, dbt_executable, manifest_is_stale
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.local_services.moto import moto_server_running
from amazon_orders_pipeline.local_services.production import TEST_CREDENTIALS, production_services
from amazon_orders_pipeline.testing.control import EmulatorControl
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS, emulator_env
from amazon_orders_pipeline.testing.notifications import OrderQueue

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
def moto_server(monkeypatch):
    """moto in server mode on a free loopback port (S3 and SQS), with test credentials in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto_server_running() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def moto_server_module():
    """One moto server for a module's tests (its clients pass their own test credentials)."""
    with moto_server_running() as endpoint:
        yield endpoint


@pytest.fixture
def moto_s3(moto_server):
    client = boto3.client("s3", endpoint_url=moto_server)
    client.create_bucket(Bucket="landing")
    return moto_server, client


@pytest.fixture
def order_queue(moto_server, emulator, pipeline_env) -> OrderQueue:
    """A standard SQS queue (with a dead-letter queue) on moto server, the emulator publishing ORDER_CHANGE to it,
    and the pipeline's environment pointing its sensor at it."""
    return OrderQueue.create(moto_server, emulator, pipeline_env)


@pytest.fixture(scope="session")
def production():
    """The production profile's services for the session, started by the first test that asks: a throwaway
    PostgreSQL cluster (Debian's) and moto server. Each test makes its own lake in them (Services.lake_env)."""
    with production_services(set_credentials=False) as services:
        yield services


@pytest.fixture
def lake_env(production, monkeypatch, request) -> dict[str, str]:
    """A new, empty DuckLake for this test: the settings that select it, and moto's test credentials in the
    environment (the lake's S3 secret and dbt's subprocess read them there)."""
    for key, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return production.lake_env(f"t{abs(hash(request.node.nodeid)) % 10**8}")


# DuckLake is the production profile end to end (a PostgreSQL cluster, moto): in the full suite, not the quick lane.
@pytest.fixture(params=["duckdb", pytest.param("ducklake", marks=pytest.mark.slow)])
def backend_env(request, pipeline_env) -> dict[str, str]:
    """pipeline_env on each warehouse backend: the DuckDB file, then DuckLake."""
    if request.param == "ducklake":
        pipeline_env.update(request.getfixturevalue("lake_env"))
    return pipeline_env
