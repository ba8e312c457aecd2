"""Crash and resume: the extraction process is killed with SIGKILL at a random page and run again. The raw pages and
the marts equal those of an uninterrupted run, and the resumed run asks the API only for what was not landed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from amazon_orders_pipeline.testing.env import emulator_env
from amazon_orders_pipeline.testing.runs import materialize_raw, materialize_transform, query

pytestmark = pytest.mark.slow

# Run in a process of its own, so that it can be killed: the raw assets of one (day, account) partition, in-process
# Dagster, as the demo runs them.
EXTRACT = """
import sys
from datetime import date
from amazon_orders_pipeline import local_runs
local_runs.materialize_raw(date.fromisoformat(sys.argv[1]), sys.argv[2])
"""
ACCOUNTS = """
accounts:
  - id: acme
    region: EU
    marketplace_ids: [A1F83G8C2ARO7P, A1PA6795UKMFR9]
    api_version: "{api_version}"
    pii: false
"""


@pytest.fixture
def emulator_process():
    """The emulator outlives the processes killed in these tests: a process of its own. About 30 searchOrders
    pages a day of the account's region (UK and DE carry 40% of the seller's orders): 20 in a burst, then ~3 a
    second."""
    proc = subprocess.Popen([sys.executable, "-m", "amazon_orders_pipeline.emulator", "--port", "0", "--speed", "600",
                             "--seed", "11", "--orders-per-day", "6500"], stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def env_for(tmp_path: Path, url: str, name: str, api_version: str) -> dict[str, str]:
    accounts = tmp_path / f"{name}.yaml"
    accounts.write_text(ACCOUNTS.format(api_version=api_version))
    return emulator_env(url, tmp_path / name, accounts)


def calls(url: str) -> Counter:
    return Counter(requests.get(f"{url}/_emulator/stats", timeout=10).json())


def kill_at_page(env: dict[str, str], day, page: int, timeout_s: float = 240) -> int:
    """Start the extraction and SIGKILL it as soon as `page` orders pages have landed. Returns the pages its
    CURRENT.json counts as landed (a page whose files were written just before the kill may not be counted yet;
    the resumed run fetches it again)."""
    landing = Path(env["LANDING_DIR"]) / "order_pages" / "account=acme" / f"date={day.isoformat()}"
    proc = subprocess.Popen([sys.executable, "-c", EXTRACT, day.isoformat(), "acme"], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if len(list(landing.glob("attempt=*/page-*.meta.json"))) >= page:
                proc.send_signal(signal.SIGKILL)
                break
            assert proc.poll() is None, "the extraction ended before it could be killed"
            time.sleep(0.005)
        else:
            raise AssertionError(f"page {page} did not land within {timeout_s} s")
    finally:
        proc.kill()
        assert proc.wait(timeout=30) == -signal.SIGKILL
    state = json.loads((landing / "CURRENT.json").read_text())
    assert state["status"] == "fetching"  # killed mid-window, not after it
    return state["pages"]


def raw_records(db: str) -> list[tuple]:
    return query(db, "select page_number, record_index, api_version, order_json from raw.order_records order by 1, 2")


def mart_digest(db: str) -> dict[str, list[tuple]]:
    """Every mart's rows, less the columns that say when a page was fetched."""
    out = {}
    for table in ("orders", "order_items", "order_addresses"):
        columns = [c for (c,) in query(db, "select column_name from information_schema.columns where table_schema = "
                                           "'main' and table_name = ? order by ordinal_position", [table])
                   if c != "fetched_at"]
        out[table] = query(db, f"select {', '.join(columns)} from main.{table} order by all")
    return out


@pytest.mark.parametrize("api_version, seed", [("2026-01-01", 1), ("v0", 2)])
def test_a_killed_extraction_resumes_to_the_same_raw_and_marts_with_fewer_calls(tmp_path, emulator_process,
                                                                                api_version, seed):
    url = emulator_process
    day = datetime.now(UTC).date() - timedelta(days=6)
    operation = "getOrders" if api_version == "v0" else "searchOrders"
    # The uninterrupted run: its own landing area and warehouse, the same seller.
    fresh = env_for(tmp_path, url, "fresh", api_version)
    before = calls(url)
    materialize_raw(fresh, day, "acme")
    # Pages served (200s): the two runs share the seller's quota, so either may also meet a 429 or two.
    fresh_calls = calls(url)[f"{operation}.200"] - before[f"{operation}.200"]
    assert fresh_calls >= 20

    killed = env_for(tmp_path, url, "killed", api_version)
    page = random.Random(seed).randint(2, fresh_calls - 3)
    landed = kill_at_page(killed, day, page)
    before = calls(url)
    result = materialize_raw(killed, day, "acme")
    resumed_calls = calls(url)[f"{operation}.200"] - before[f"{operation}.200"]
    meta = result.asset_materializations_for_node("amazon_sp_api__landed_order_pages")[0].metadata
    assert meta["resumed_pages"].value == landed >= page - 1
    assert resumed_calls == fresh_calls - landed < fresh_calls

    assert raw_records(killed["DUCKDB_PATH"]) == raw_records(fresh["DUCKDB_PATH"])
    for env in (fresh, killed):
        assert materialize_transform(env, day).success
    assert mart_digest(killed["DUCKDB_PATH"]) == mart_digest(fresh["DUCKDB_PATH"])
