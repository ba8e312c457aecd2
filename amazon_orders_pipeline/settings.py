"""The pipeline's settings, read from the environment once (the README's configuration table), with clear errors.
Each setting is declared once, grouped by concern: its variable, default, check and what it is for."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).parent
# The default files the package ships.
DEFAULT_ACCOUNTS_FILE = PACKAGE / "accounts.default.yaml"
DEFAULT_MAPPINGS_FILE = PACKAGE / "exporters" / "mappings.default.yaml"
DEFAULT_CARRIERS_FILE = PACKAGE / "writes" / "mfn" / "carriers.default.yaml"
DEFAULT_MCF_CONFIG = PACKAGE / "writes" / "mcf" / "mcf.default.yaml"
# What resources built without settings (tests, one-off scripts) start from; the same values as the settings'.
DEFAULT_LANDING_DIR = "data/landing"
DEFAULT_EXPORT_DIR = "exports"
DEFAULT_WRITEBACK_INBOX_DIR = "data/writeback-inbox"
DEFAULT_MCF_INBOX_DIR = "data/mcf-inbox"
DEFAULT_WRITEBACK_CONFIRM_MINUTES = 120
DEFAULT_WRITES_RETENTION_DAYS = 90
DEFAULT_EMULATOR_SPEED = 100.0
DEFAULT_LOCK_TIMEOUT_S = 300.0
WAREHOUSE_BACKENDS = ("duckdb", "ducklake")


class ConfigError(ValueError):
    """A setting or a configuration file that cannot be used, said so that its owner can fix it."""


Parse = Callable[[Mapping[str, str], str, Any], Any]


def text(env: Mapping[str, str], name: str, default: Any) -> Any:
    return env.get(name) or default


def path(env: Mapping[str, str], name: str, default: Path) -> Path:
    return Path(env.get(name) or default)


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or str(default)).strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} must be true or false, got {env.get(name)!r}")
    return value in ("true", "1", "yes")


def positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name) or str(default)
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return number


def whole(low: int, high: int) -> Parse:
    def parse(env: Mapping[str, str], name: str, default: int) -> int:
        value = env.get(name) or str(default)
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        return number

    return parse


def one_of(*allowed: str) -> Parse:
    def parse(env: Mapping[str, str], name: str, default: str) -> str:
        value = (env.get(name) or default).strip().lower()
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {env.get(name)!r}")
        return value

    return parse


def setting(variable: str, default: Any, doc: str, parse: Parse = text) -> Any:
    """One setting: the environment variable it is read from, its default, what it is for, and its check."""
    return field(default=default, metadata={"variable": variable, "parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    # --- accounts and the SP-API ---------------------------------------------------------------
    accounts_file: Path = setting("ACCOUNTS_FILE", DEFAULT_ACCOUNTS_FILE, "the accounts to extract", path)
    sp_api_endpoint: str | None = setting("SP_API_ENDPOINT", None, "override of the region's SP-API endpoint")
    lwa_token_url: str | None = setting("LWA_TOKEN_URL", None, "override of the LWA token endpoint")
    emulator_speed: float = setting("EMULATOR_SPEED", DEFAULT_EMULATOR_SPEED,
                                    "quota speed-up of the in-process emulator", positive)
    # --- partitions, schedules and sweeps -------------------------------------------------------
    partitions_start_date: str = setting("PARTITIONS_START_DATE", "2026-01-01", "the first daily partition")
    lookback_days: int = setting("LOOKBACK_DAYS", 2, "days before the closed one re-checked daily", whole(0, 30))
    freshness_deadline_cron: str = setting("FRESHNESS_DEADLINE_CRON", "0 3 * * *",
                                           "by when the newest day's marts and exports must exist")
    sweep_interval_minutes: int = setting("SWEEP_INTERVAL_MINUTES", 15, "how often today is swept", whole(1, 30))
    # At least 3: Amazon refuses a window that ends less than 2 minutes before now.
    sweep_settle_minutes: int = setting("SWEEP_SETTLE_MINUTES", 5, "how long before now a sweep's window ends",
                                        whole(3, 180))
    sweep_overlap_minutes: int = setting("SWEEP_OVERLAP_MINUTES", 0,
                                         "what a sweep re-reads before where the last one settled", whole(0, 180))
    # --- ORDER_CHANGE notifications -------------------------------------------------------------
    order_change_queue_url: str | None = setting("ORDER_CHANGE_QUEUE_URL", None, "the ORDER_CHANGE SQS queue")
    order_change_sqs_endpoint_url: str | None = setting("ORDER_CHANGE_SQS_ENDPOINT_URL", None,
                                                        "an SQS-compatible endpoint")
    # None: boto3's own (AWS_DEFAULT_REGION, ~/.aws/config).
    order_change_queue_region: str | None = setting("ORDER_CHANGE_QUEUE_REGION", None, "the queue's AWS region")
    # --- landing area -----------------------------------------------------------------------------
    landing_dir: str = setting("LANDING_DIR", DEFAULT_LANDING_DIR, "the local landing area")
    landing_s3_uri: str | None = setting("LANDING_S3_URI", None, "land in s3://bucket/prefix instead")
    landing_s3_endpoint_url: str | None = setting("LANDING_S3_ENDPOINT_URL", None, "an S3-compatible endpoint")
    # --- warehouse --------------------------------------------------------------------------------
    duckdb_path: str = setting("DUCKDB_PATH", "data/amazon_orders.duckdb", "the warehouse file")
    duckdb_lock_timeout_s: float = setting("DUCKDB_LOCK_TIMEOUT_S", DEFAULT_LOCK_TIMEOUT_S,
                                           "how long a DuckDB step waits for the file", positive)
    warehouse_backend: str = setting("WAREHOUSE_BACKEND", WAREHOUSE_BACKENDS[0], "duckdb, or ducklake",
                                     one_of(*WAREHOUSE_BACKENDS))
    ducklake_catalog: str | None = setting("DUCKLAKE_CATALOG", None, "the lake's PostgreSQL catalog")
    ducklake_data_path: str | None = setting("DUCKLAKE_DATA_PATH", None, "the lake's data files")
    ducklake_s3_endpoint_url: str | None = setting("DUCKLAKE_S3_ENDPOINT_URL", None, "an S3-compatible endpoint")
    # --- exports ----------------------------------------------------------------------------------
    export_dir: str = setting("EXPORT_DIR", DEFAULT_EXPORT_DIR, "where export files go")
    export_s3_uri: str | None = setting("EXPORT_S3_URI", None, "deliver exports to s3://bucket/prefix instead")
    export_s3_endpoint_url: str | None = setting("EXPORT_S3_ENDPOINT_URL", None, "an S3-compatible endpoint")
    export_mappings_file: str = setting("EXPORT_MAPPINGS_FILE", str(DEFAULT_MAPPINGS_FILE),
                                        "status and SKU mappings")
    export_mcf_orders: bool = setting("EXPORT_MCF_ORDERS", False, "also export Multi-Channel Fulfillment orders",
                                      flag)
    # --- write-back (MFN) ---------------------------------------------------------------------------
    writeback_inbox_dir: str = setting("WRITEBACK_INBOX_DIR", DEFAULT_WRITEBACK_INBOX_DIR, "the ERP's files")
    writeback_inbox_s3_uri: str | None = setting("WRITEBACK_INBOX_S3_URI", None, "read them from S3 instead")
    writeback_inbox_s3_endpoint_url: str | None = setting("WRITEBACK_INBOX_S3_ENDPOINT_URL", None,
                                                          "an S3-compatible endpoint")
    carrier_mapping_file: str = setting("CARRIER_MAPPING_FILE", str(DEFAULT_CARRIERS_FILE),
                                        "the ERP's carriers to Amazon's codes")
    writeback_confirm_minutes: int = setting("WRITEBACK_CONFIRM_MINUTES", DEFAULT_WRITEBACK_CONFIRM_MINUTES,
                                             "how long a sent request may take to show in the marts",
                                             whole(1, 7 * 24 * 60))
    writes_retention_days: int = setting("WRITES_RETENTION_DAYS", DEFAULT_WRITES_RETENTION_DAYS,
                                         "how long closed write-back and MCF requests stay in their ledgers",
                                         whole(1, 3650))
    # --- Multi-Channel Fulfillment ------------------------------------------------------------------
    mcf_inbox_dir: str = setting("MCF_INBOX_DIR", DEFAULT_MCF_INBOX_DIR, "the web shop's order files")
    mcf_inbox_s3_uri: str | None = setting("MCF_INBOX_S3_URI", None, "read them from S3 instead")
    mcf_inbox_s3_endpoint_url: str | None = setting("MCF_INBOX_S3_ENDPOINT_URL", None, "an S3-compatible endpoint")
    mcf_config_file: str = setting("MCF_CONFIG_FILE", str(DEFAULT_MCF_CONFIG), "the MCF configuration")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(**{f.name: f.metadata["parse"](env, f.metadata["variable"], f.default) for f in fields(cls)})

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Every setting's environment variable and what it is for."""
        return {f.metadata["variable"]: f.metadata["doc"] for f in fields(cls)}

    @property
    def lake(self) -> LakeConfig | None:
        """The DuckLake, when WAREHOUSE_BACKEND is ducklake (a clear error when its settings are missing)."""
        if self.warehouse_backend != "ducklake":
            return None
        try:
            return LakeConfig(self.ducklake_catalog or "", self.ducklake_data_path or "",
                              self.ducklake_s3_endpoint_url)
        except ValueError as e:
            raise ConfigError(f"WAREHOUSE_BACKEND=ducklake: {e}") from None

    @property
    def warehouse(self) -> str | LakeConfig:
        """Where the warehouse is: the DuckDB file's path, or the DuckLake."""
        return self.lake or self.duckdb_path


@dataclass(frozen=True)
class LakeConfig:
    """Where the lake is. `catalog`: a libpq connection string without a password (`dbname=lake host=... port=...
    user=...`); `data_path`: an S3 prefix (or a local folder, for a lake on one machine); `s3_endpoint_url`: an
    S3-compatible endpoint other than AWS's (http://host:port), as for the landing area."""

    catalog: str
    data_path: str
    s3_endpoint_url: str | None = None

    def __post_init__(self):
        if not self.catalog.strip():
            raise ValueError("DUCKLAKE_CATALOG is empty: give the catalog's PostgreSQL connection string "
                             "(dbname=... host=... port=... user=...)")
        if re.search(r"(^|\s)password\s*=", self.catalog):
            raise ValueError("DUCKLAKE_CATALOG must not hold a password: set PGPASSWORD or use ~/.pgpass")
        if not self.data_path.strip():
            raise ValueError("DUCKLAKE_DATA_PATH is empty: give the S3 prefix of the lake's data files")

    def describe(self) -> str:
        """For logs and metadata: where, never who."""
        keep = [p for p in self.catalog.split() if p.split("=", 1)[0] in ("dbname", "host", "port")]
        return f"DuckLake (catalog {' '.join(keep)}, data {self.data_path})"

    def dbt_vars(self) -> dict[str, str]:
        """What dbt's `lake` target reads (profiles.yml); no credential among them."""
        return {"lake_catalog": self.catalog, "lake_data_path": self.data_path,
                "lake_s3_endpoint_url": self.s3_endpoint_url or ""}
