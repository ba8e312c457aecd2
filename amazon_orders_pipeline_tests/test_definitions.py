"""The code location: it loads from workspace.yaml, reads nothing at import, and partitions as documented."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from amazon_orders_pipeline.accounts import load_accounts
from amazon_orders_pipeline.assets import build_assets
from amazon_orders_pipeline.dbt_project import manifest_is_stale
from amazon_orders_pipeline.definitions import build_definitions
from amazon_orders_pipeline.extract.order_reports import HistoryPlan, plan_history
from amazon_orders_pipeline.settings import ConfigError, Settings
from amazon_orders_pipeline.testing.env import TWO_ACCOUNTS

ROOT = Path(__file__).resolve().parents[1]


def test_workspace_yaml_loads_and_validates(tmp_path):
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    env = {**os.environ, "ACCOUNTS_FILE": str(accounts), "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate",
                           "-w", "workspace.yaml"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation successful" in proc.stderr + proc.stdout


def test_importing_the_module_reads_no_environment():
    env = {**os.environ, "ACCOUNTS_FILE": "/nonexistent/accounts.yaml"}
    proc = subprocess.run([sys.executable, "-c", "import amazon_orders_pipeline.definitions"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(ConfigError, match="cannot read accounts file"):
        build_definitions({"ACCOUNTS_FILE": "/nonexistent/accounts.yaml"})


def test_raw_partitions_are_utc_days_up_to_today_by_account(tmp_path):
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    defs = build_definitions({"ACCOUNTS_FILE": str(accounts), "PARTITIONS_START_DATE": "2026-11-01"})
    asset = defs.get_assets_def(dg.AssetKey(["amazon_sp_api", "order_pages"]))
    parts = asset.partitions_def
    assert isinstance(parts, dg.MultiPartitionsDefinition)
    keys = parts.get_partition_keys()
    today = datetime.now(UTC).date().isoformat()
    dates = {k.keys_by_dimension["date"] for k in keys}
    assert {k.keys_by_dimension["account"] for k in keys} == {"acme-us", "acme-eu"}
    assert min(dates) == "2026-11-01" and max(dates) == today  # today's window grows by sweeps during the day
    assert asset.group_names_by_key == {dg.AssetKey(["amazon_sp_api", "order_pages"]): "extract",
                                        dg.AssetKey(["amazon_sp_api", "order_records"]): "extract"}


def test_groups_follow_the_stages_and_exports_read_the_marts(tmp_path):
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    defs = build_definitions({"ACCOUNTS_FILE": str(accounts)})
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups["salesforce_order_export"] == groups["erp_sales_order_export"] == "exports"
    assert {groups[m] for m in ("orders", "order_items", "order_addresses", "order_packages", "order_package_items",
                                "order_tax_registrations")} == {"marts"}
    assert groups["stg_amazon_sp_api__orders"] == "staging"
    # dbt's sources are the raw multi-asset's own keys: lineage joins up without a translator.
    base = graph.get(dg.AssetKey(["base_amazon_sp_api__order_records"]))
    assert dg.AssetKey(["amazon_sp_api", "order_records"]) in base.parent_keys
    erp = graph.get(dg.AssetKey(["erp_sales_order_export"]))
    assert erp.parent_keys == {dg.AssetKey([n]) for n in ("orders", "order_items", "order_addresses",
                                                          "order_tax_registrations")}


@pytest.mark.parametrize("text, message", [
    ("accounts: []", "non-empty list"),
    ("accounts:\n  - {id: Bad Id, region: NA, marketplace_ids: [X]}", "lowercase"),
    ("accounts:\n  - {id: a, region: MARS, marketplace_ids: [X]}", "region"),
    ("accounts:\n  - {id: a, region: NA, marketplace_ids: []}", "marketplace_ids"),
    ("accounts:\n  - {id: a, region: NA, marketplace_ids: [ATVPDKIKX0DER]}\n"
     "  - {id: a, region: EU, marketplace_ids: [A1PA6795UKMFR9]}", "unique"),
    # A region's endpoint serves only its own marketplaces: the error names each one that is out of place.
    ("accounts:\n  - {id: a, region: NA, marketplace_ids: [ATVPDKIKX0DER, A1F83G8C2ARO7P, A1VC38T7YXB528]}",
     r"region NA does not serve A1F83G8C2ARO7P \(UK, region EU\), A1VC38T7YXB528 \(JP, region FE\)"),
    ("accounts:\n  - {id: a, region: EU, marketplace_ids: [NOT-A-MARKETPLACE]}", "NOT-A-MARKETPLACE"),
    ("accounts:\n  - {id: a, region: NA, marketplace_ids: [ATVPDKIKX0DER], history_source: ftp}", "history_source"),
])
def test_bad_accounts_files_get_clear_errors(tmp_path, text, message):
    path = tmp_path / "accounts.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_accounts(path)


def test_history_comes_from_reports_for_v2026_accounts_and_page_by_page_for_v0_unless_said(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text("accounts:\n"
                    "  - {id: a, region: NA, marketplace_ids: [ATVPDKIKX0DER]}\n"
                    "  - {id: b, region: NA, marketplace_ids: [ATVPDKIKX0DER], api_version: v0}\n"
                    "  - {id: c, region: NA, marketplace_ids: [ATVPDKIKX0DER], history_source: api}\n"
                    "  - {id: d, region: NA, marketplace_ids: [ATVPDKIKX0DER], api_version: v0, "
                    "history_source: reports}\n")
    assert [a.history_source for a in load_accounts(path)] == ["reports", "api", "api", "reports"]


def test_a_run_plans_reports_for_ranges_of_four_days_or_more_and_pages_for_what_no_window_covers_whole():
    now = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(26)]  # to 11-26, the day that has just closed
    plan = plan_history(days, source="reports", now=now)
    # The windows end an hour before now: 11-26 is not covered whole, so it goes page by page.
    assert plan.report_days == days[:-1] and plan.api_days == [date(2026, 11, 26)]
    assert plan_history(days[:3], source="reports", now=now) == HistoryPlan([], days[:3])
    assert plan_history(days, source="api", now=now) == HistoryPlan([], days)
    assert plan_history(days[-4:], source="reports", now=now) == HistoryPlan([], days[-4:])  # 3 whole days


def test_partial_credentials_are_an_error_and_none_means_emulator(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text("accounts:\n  - {id: shop-1, region: EU, marketplace_ids: [A1PA6795UKMFR9]}")
    account = load_accounts(path)[0]
    assert account.credentials({}) is None
    with pytest.raises(ConfigError, match="SP_API_SHOP_1_CLIENT_SECRET"):
        account.credentials({"SP_API_SHOP_1_CLIENT_ID": "x", "SP_API_SHOP_1_REFRESH_TOKEN": "y"})
    creds = account.credentials({"SP_API_SHOP_1_CLIENT_ID": "x", "SP_API_SHOP_1_CLIENT_SECRET": "s",
                                 "SP_API_SHOP_1_REFRESH_TOKEN": "y"})
    assert creds is not None and creds.client_id == "x"


def test_dbt_exports_and_checks_queue_in_the_duckdb_pool_the_raw_load_extraction_and_writeback_do_not(
        tmp_path):
    # The raw load takes only the warehouse's turn (a file lock, tested in test_warehouse): a pool slot would
    # also be held through its process start-up.
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    defs = build_definitions({"ACCOUNTS_FILE": str(accounts)})
    nodes = [*defs.assets, *defs.asset_checks]
    uses_duckdb = {n.node_def.name: n.node_def.pools for n in nodes if "duckdb" in n.required_resource_keys}
    assert {"amazon_sp_api__order_pages", "amazon_orders_dbt", "salesforce_order_export", "erp_sales_order_export",
            "order_checks"} <= set(uses_duckdb)
    assert not uses_duckdb.pop("amazon_sp_api__order_pages")
    assert not uses_duckdb.pop("amazon_sp_api__transaction_pages")  # the money's raw load, likewise
    assert not uses_duckdb.pop("amazon_sp_api__settlement_reports")  # its loads take the turn, not a slot
    assert not uses_duckdb.pop("amazon_sp_api__return_reports")  # the returns' raw load, likewise
    # Nor do the writes to Amazon: they take the turn between Amazon's calls only, never while they wait on them.
    assert not uses_duckdb.pop("mfn_writeback") and not uses_duckdb.pop("fba_fulfillment_orders")
    assert all(pools == {"duckdb"} for pools in uses_duckdb.values()), uses_duckdb
    for name in ("amazon_sp_api__landed_order_pages", "amazon_sp_api__landed_transaction_pages",
                 "amazon_sp_api__landed_return_reports"):
        landed = next(n for n in defs.assets if n.node_def.name == name)
        assert "duckdb" not in landed.required_resource_keys and not landed.node_def.pools
    pools = yaml.safe_load((ROOT / "dagster.yaml").read_text())["concurrency"]["pools"]
    assert pools == {"granularity": "op", "default_limit": 1}


def test_the_manifest_is_stale_when_missing_or_older_than_a_file_dbt_parses_and_not_for_dbt_output(tmp_path):
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "target" / "run-1").mkdir(parents=True)
    model, manifest = project / "models" / "orders.sql", project / "target" / "manifest.json"
    model.write_text("select 1")
    assert manifest_is_stale(project, manifest)
    manifest.write_text("{}")
    os.utime(model, (1_000, 1_000))
    os.utime(manifest, (2_000, 2_000))
    assert not manifest_is_stale(project, manifest)
    (project / "target" / "run-1" / "compiled.sql").write_text("select 1")  # dbt's own output, newer
    assert not manifest_is_stale(project, manifest)
    os.utime(model, (3_000, 3_000))
    assert manifest_is_stale(project, manifest)


LAYERS = [
    # (module, packages of the project it must not load)
    ("amazon_orders_pipeline.resources", ("amazon_orders_pipeline.assets", "amazon_orders_pipeline.definitions")),
    ("amazon_orders_pipeline.settings", ("amazon_orders_pipeline.assets", "amazon_orders_pipeline.resources")),
    ("amazon_orders_pipeline.sp_api", ("dagster", "amazon_orders_pipeline.assets")),
    ("amazon_orders_pipeline.extract", ("dagster", "amazon_orders_pipeline.assets")),
    ("amazon_orders_pipeline.exporters.erp", ("dagster", "amazon_orders_pipeline.assets")),
    ("amazon_orders_pipeline.assets", ("amazon_orders_pipeline.definitions", "amazon_orders_pipeline.testing")),
    ("amazon_orders_pipeline.definitions", ("amazon_orders_pipeline.testing", "amazon_orders_pipeline.local_services")),
    ("amazon_orders_pipeline.demo", ("amazon_orders_pipeline.testing",)),
]


@pytest.mark.parametrize("module, forbidden", LAYERS)
def test_layers_point_one_way(module, forbidden):
    code = (f"import sys, {module}\n"
            f"print('\\n'.join(m for m in sys.modules if m.startswith({forbidden!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [], f"{module} loads {proc.stdout.split()}"


def test_the_marts_and_their_freshness_checks_come_from_dbts_manifest(tmp_path):
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(TWO_ACCOUNTS)
    assets = build_assets(Settings.from_env({"ACCOUNTS_FILE": str(accounts)}))
    marts = {p.stem for p in (ROOT / "dbt_project" / "models" / "marts").glob("*.sql")}
    assert {k.to_user_string() for k in assets.mart_keys} == marts == {
        "orders", "order_items", "order_addresses", "order_packages", "order_package_items", "order_tax_registrations"}
    defs = build_definitions({"ACCOUNTS_FILE": str(accounts)})
    fresh = {k.asset_key for k in defs.resolve_asset_graph().asset_check_keys if k.name == "freshness_check"}
    assert fresh == {*assets.mart_keys, *assets.export_keys}


def test_settings_are_read_once_with_clear_errors():
    settings = Settings.from_env({"DUCKDB_PATH": "/tmp/x.duckdb", "EMULATOR_SPEED": "50", "LOOKBACK_DAYS": "3"})
    assert (settings.duckdb_path, settings.emulator_speed, settings.lookback_days) == ("/tmp/x.duckdb", 50.0, 3)
    assert Settings.from_env({}).duckdb_path == "data/amazon_orders.duckdb"
    for name, bad in (("EMULATOR_SPEED", "fast"), ("DUCKDB_LOCK_TIMEOUT_S", "-1"), ("LOOKBACK_DAYS", "31")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: bad})


def test_each_way_in_imports_only_the_shared_landing_machinery():
    """One module per SP-API path, beside the machinery they share: no way in imports another (no import circle)."""
    package = ROOT / "amazon_orders_pipeline" / "extract"
    for module in ("search_orders", "get_orders_v0"):
        tree = ast.parse((package / f"{module}.py").read_text())
        own = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
               and (n.module or "").startswith("amazon_orders_pipeline.extract")}
        assert own == {"amazon_orders_pipeline.extract.landing"}, (module, own)


def test_the_dbt_resource_knows_the_venvs_dbt_version_without_asking_it_and_dagster_dbt_still_has_the_hooks():
    """DbtResource replaces two of dagster-dbt's per-run costs: the version it would ask `dbt --version` for is the
    one the venv's dbt reports, and dagster-dbt still calls both hooks (an upgrade that renames them fails here)."""
    from dagster_dbt import DbtCliResource

    from amazon_orders_pipeline.dbt_project import dbt_executable
    from amazon_orders_pipeline.resources import dbt_resource

    resource = dbt_resource()
    reported = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True).stdout
    assert f"installed: {resource._cli_version}" in reported or f"dbt={resource._cli_version}" in reported
    for hook in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert hook in vars(DbtCliResource)
        source = Path(sys.modules[DbtCliResource.__module__].__file__).read_text()
        assert f"self.{hook}" in source
    assert resource._initialize_dbt_core_adapter([]) is None
