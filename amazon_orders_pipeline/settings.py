"""The pipeline's settings, read from the environment once (the README's configuration table), with clear errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from amazon_orders_pipeline import lake
from amazon_orders_pipeline.accounts import DEFAULT_ACCOUNTS_FILE, Account, ConfigError, load_accounts
from amazon_orders_pipeline.exporters.mappings import DEFAULT_MAPPINGS_FILE
from amazon_orders_pipeline.mcf.config import DEFAULT_MCF_CONFIG
from amazon_orders_pipeline.warehouse_resource import DEFAULT_LOCK_TIMEOUT_S
from amazon_orders_pipeline.writeback.carriers import DEFAULT_CARRIERS_FILE

DEFAULT_DUCKDB_PATH = "data/amazon_orders.duckdb"
DEFAULT_LANDING_DIR = "data/landing"
DEFAULT_EXPORT_DIR = "exports"
DEFAULT_START_DATE = "2026-01-01"
DEFAULT_LOOKBACK_DAYS = 2
DEFAULT_EMULATOR_SPEED = 100.0
DEFAULT_FRESHNESS_DEADLINE_CRON = "0 3 * * *"
DEFAULT_SWEEP_INTERVAL_MINUTES = 15
DEFAULT_SWEEP_SETTLE_MINUTES = 5
DEFAULT_SWEEP_OVERLAP_MINUTES = 0
DEFAULT_WRITEBACK_INBOX_DIR = "data/writeback-inbox"
DEFAULT_WRITEBACK_CONFIRM_MINUTES = 120
DEFAULT_MCF_INBOX_DIR = "data/mcf-inbox"


@dataclass(frozen=True)
class Settings:
    accounts_file: Path = DEFAULT_ACCOUNTS_FILE
    partitions_start_date: str = DEFAULT_START_DATE
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    freshness_deadline_cron: str = DEFAULT_FRESHNESS_DEADLINE_CRON
    sweep_interval_minutes: int = DEFAULT_SWEEP_INTERVAL_MINUTES
    sweep_settle_minutes: int = DEFAULT_SWEEP_SETTLE_MINUTES
    sweep_overlap_minutes: int = DEFAULT_SWEEP_OVERLAP_MINUTES
    order_change_queue_url: str | None = None
    order_change_sqs_endpoint_url: str | None = None
    order_change_queue_region: str | None = None  # None: boto3's own (AWS_DEFAULT_REGION, ~/.aws/config)
    sp_api_endpoint: str | None = None
    lwa_token_url: str | None = None
    emulator_speed: float = DEFAULT_EMULATOR_SPEED
    landing_dir: str = DEFAULT_LANDING_DIR
    landing_s3_uri: str | None = None
    landing_s3_endpoint_url: str | None = None
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    duckdb_lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    warehouse_backend: str = "duckdb"  # or ducklake
    ducklake_catalog: str | None = None
    ducklake_data_path: str | None = None
    ducklake_s3_endpoint_url: str | None = None
    export_dir: str = DEFAULT_EXPORT_DIR
    export_s3_uri: str | None = None
    export_s3_endpoint_url: str | None = None
    export_mappings_file: str = str(DEFAULT_MAPPINGS_FILE)
    export_mcf_orders: bool = False
    writeback_inbox_dir: str = DEFAULT_WRITEBACK_INBOX_DIR
    writeback_inbox_s3_uri: str | None = None
    writeback_inbox_s3_endpoint_url: str | None = None
    carrier_mapping_file: str = str(DEFAULT_CARRIERS_FILE)
    writeback_confirm_minutes: int = DEFAULT_WRITEBACK_CONFIRM_MINUTES
    mcf_inbox_dir: str = DEFAULT_MCF_INBOX_DIR
    mcf_inbox_s3_uri: str | None = None
    mcf_inbox_s3_endpoint_url: str | None = None
    mcf_config_file: str = str(DEFAULT_MCF_CONFIG)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def text(name: str, default=None):
            return env.get(name) or default

        return cls(
            accounts_file=Path(text("ACCOUNTS_FILE", DEFAULT_ACCOUNTS_FILE)),
            partitions_start_date=text("PARTITIONS_START_DATE", DEFAULT_START_DATE),
            lookback_days=whole_number(env, "LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS, 0, 30),
            freshness_deadline_cron=text("FRESHNESS_DEADLINE_CRON", DEFAULT_FRESHNESS_DEADLINE_CRON),
            sweep_interval_minutes=whole_number(env, "SWEEP_INTERVAL_MINUTES", DEFAULT_SWEEP_INTERVAL_MINUTES, 1, 30),
            # At least 3: Amazon refuses a window that ends less than 2 minutes before now.
            sweep_settle_minutes=whole_number(env, "SWEEP_SETTLE_MINUTES", DEFAULT_SWEEP_SETTLE_MINUTES, 3, 180),
            sweep_overlap_minutes=whole_number(env, "SWEEP_OVERLAP_MINUTES", DEFAULT_SWEEP_OVERLAP_MINUTES, 0, 180),
            order_change_queue_url=text("ORDER_CHANGE_QUEUE_URL"),
            order_change_sqs_endpoint_url=text("ORDER_CHANGE_SQS_ENDPOINT_URL"),
            order_change_queue_region=text("ORDER_CHANGE_QUEUE_REGION"),
            sp_api_endpoint=text("SP_API_ENDPOINT"),
            lwa_token_url=text("LWA_TOKEN_URL"),
            emulator_speed=positive_number(env, "EMULATOR_SPEED", DEFAULT_EMULATOR_SPEED),
            landing_dir=text("LANDING_DIR", DEFAULT_LANDING_DIR),
            landing_s3_uri=text("LANDING_S3_URI"),
            landing_s3_endpoint_url=text("LANDING_S3_ENDPOINT_URL"),
            duckdb_path=text("DUCKDB_PATH", DEFAULT_DUCKDB_PATH),
            duckdb_lock_timeout_s=positive_number(env, "DUCKDB_LOCK_TIMEOUT_S", DEFAULT_LOCK_TIMEOUT_S),
            warehouse_backend=choice(env, "WAREHOUSE_BACKEND", WAREHOUSE_BACKENDS),
            ducklake_catalog=text("DUCKLAKE_CATALOG"),
            ducklake_data_path=text("DUCKLAKE_DATA_PATH"),
            ducklake_s3_endpoint_url=text("DUCKLAKE_S3_ENDPOINT_URL"),
            export_dir=text("EXPORT_DIR", DEFAULT_EXPORT_DIR),
            export_s3_uri=text("EXPORT_S3_URI"),
            export_s3_endpoint_url=text("EXPORT_S3_ENDPOINT_URL"),
            export_mappings_file=text("EXPORT_MAPPINGS_FILE", str(DEFAULT_MAPPINGS_FILE)),
            export_mcf_orders=flag(env, "EXPORT_MCF_ORDERS"),
            writeback_inbox_dir=text("WRITEBACK_INBOX_DIR", DEFAULT_WRITEBACK_INBOX_DIR),
            writeback_inbox_s3_uri=text("WRITEBACK_INBOX_S3_URI"),
            writeback_inbox_s3_endpoint_url=text("WRITEBACK_INBOX_S3_ENDPOINT_URL"),
            carrier_mapping_file=text("CARRIER_MAPPING_FILE", str(DEFAULT_CARRIERS_FILE)),
            writeback_confirm_minutes=whole_number(env, "WRITEBACK_CONFIRM_MINUTES",
                                                   DEFAULT_WRITEBACK_CONFIRM_MINUTES, 1, 7 * 24 * 60),
            mcf_inbox_dir=text("MCF_INBOX_DIR", DEFAULT_MCF_INBOX_DIR),
            mcf_inbox_s3_uri=text("MCF_INBOX_S3_URI"),
            mcf_inbox_s3_endpoint_url=text("MCF_INBOX_S3_ENDPOINT_URL"),
            mcf_config_file=text("MCF_CONFIG_FILE", str(DEFAULT_MCF_CONFIG)),
        )

    def accounts(self) -> list[Account]:
        return load_accounts(self.accounts_file)

    @property
    def lake(self) -> lake.LakeConfig | None:
        """The DuckLake, when WAREHOUSE_BACKEND is ducklake (a clear error when its settings are missing)."""
        if self.warehouse_backend != "ducklake":
            return None
        try:
            return lake.LakeConfig(self.ducklake_catalog or "", self.ducklake_data_path or "",
                                   self.ducklake_s3_endpoint_url)
        except ValueError as e:
            raise ConfigError(f"WAREHOUSE_BACKEND=ducklake: {e}") from None

    @property
    def warehouse(self) -> str | lake.LakeConfig:
        """Where the warehouse is: the DuckDB file's path, or the DuckLake."""
        return self.lake or self.duckdb_path


WAREHOUSE_BACKENDS = ("duckdb", "ducklake")


def choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    text = (env.get(name) or allowed[0]).strip().lower()
    if text not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {env.get(name)!r}")
    return text


def whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name) or str(default)
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return value


def flag(env: Mapping[str, str], name: str) -> bool:
    text = (env.get(name) or "false").strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} must be true or false, got {env.get(name)!r}")
    return text in ("true", "1", "yes")


def positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name) or str(default)
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigError(f"{name} must be a positive number, got {text!r}")
    return value
