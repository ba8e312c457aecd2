"""The README and docs/ stay true: short README, links that resolve, every make target and setting real, the
commands' run config what the code reads. (Their SQL runs in test_demo and test_analyst_sql.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from amazon_orders_pipeline.assets.dbt import DBT_ASSETS_OP, DbtRunConfig
from amazon_orders_pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_fits_a_few_screens_and_the_rest_lives_in_docs():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 110, len(lines)
    assert {p.name for p in PAGES[1:]} >= {"architecture.md", "operations.md", "exports.md", "querying.md",
                                           "emulator.md", "benchmarks.md", "development.md"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", page.read_text()):
        assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_every_make_target_named_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"(?m)^([a-z][a-z-]*):", makefile))
    named = {t for p in PAGES for t in re.findall(r"`make ([a-z][a-z-]*)", p.read_text())}
    assert named and named <= targets, named - targets


def test_the_configuration_table_names_exactly_the_settings_read():
    readme = (ROOT / "README.md").read_text()
    table = {v for v in re.findall(r"(?m)^\| `([A-Z0-9_]+)` \|", readme)} - {"DAGSTER_HOME"}
    read = set(Settings.variables())
    assert table == read
    # Every variable maps to one setting, and each says what it is for.
    assert len(fields(Settings)) == len(read)
    assert all(Settings.variables().values())
    # And .env.example, which the README points to, shows each one.
    example = set(re.findall(r"(?m)^# ([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text()))
    assert read <= example, read - example


def test_the_full_refresh_command_passes_the_run_config_the_dbt_assets_read():
    operations = (ROOT / "docs" / "operations.md").read_text()
    configs = [json.loads(c) for c in re.findall(r"--config-json '([^']+)'", operations)]
    assert configs
    for config in configs:
        (op, body), = config["ops"].items()
        assert op == DBT_ASSETS_OP
        DbtRunConfig(**body["config"])  # an unknown or mistyped field raises
        assert body["config"] == {"full_refresh": True}


def test_the_emulator_pages_client_example_runs_against_a_live_emulator(emulator):
    text = (ROOT / "docs" / "emulator.md").read_text()
    code = re.search(r"<!-- emulator-example:start -->\n```python\n(.*?)```", text, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "EMULATOR_URL": emulator.url},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    orders, lines = re.fullmatch(r"(\d+) orders; (\d+) lines\n", proc.stdout).groups()
    assert 0 < int(orders) <= int(lines)
