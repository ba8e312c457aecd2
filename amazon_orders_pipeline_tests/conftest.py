"""Fixtures: a real emulator on a free loopback port, a tmp DuckDB file and landing dir, an accounts file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from amazon_orders_pipeline.definitions import build_assets
from amazon_orders_pipeline.emulator import Emulator
from amazon_orders_pipeline.resources import SpApiResource, build_resources

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = SHARED / "spapi-models"
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


def emulator_refresh_token(account_id: str) -> str:
    return f"emulator-refresh-{account_id}"


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
    return {
        "ACCOUNTS_FILE": str(accounts),
        "DUCKDB_PATH": str(tmp_path / "warehouse" / "orders.duckdb"),
        "LANDING_DIR": str(tmp_path / "landing"),
        "SP_API_ENDPOINT": emulator.url,
        "LWA_TOKEN_URL": f"{emulator.url}/auth/o2/token",
        "PARTITIONS_START_DATE": "2026-01-01",
    }


def materialize_raw(environ: dict[str, str], day: date, account_id: str, instance=None,
                    raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    key = dg.MultiPartitionKey({"date": day.isoformat(), "account": account_id})
    resources = build_resources(environ)
    base = resources["sp_api"]
    resources["sp_api"] = SpApiResource(accounts_file=base.accounts_file, endpoint=base.endpoint,
                                        lwa_token_url=base.lwa_token_url, retry_base_delay_s=0.01)
    return dg.materialize(build_assets(environ), partition_key=key, resources=resources,
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error)


def raw_orders(db_path: str, account_id: str, day: date) -> list[dict]:
    """Every order in the raw pages of one partition, in page order."""
    with duckdb.connect(db_path, read_only=True) as conn:
        pages = conn.execute(
            "select page from raw.order_pages where account_id = ? and partition_date = ? order by page_number",
            [account_id, day]).fetchall()
    return [o for (page,) in pages for o in json.loads(page)["orders"]]


@pytest.fixture(scope="session")
def orders_model() -> dict:
    return json.loads((MODELS / "orders_2026-01-01.json").read_text())
