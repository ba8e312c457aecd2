"""Resources, built from environment variables when definitions load: SP-API access, landing, DuckDB, dbt, exports."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Mapping
from functools import cached_property

import dagster as dg
import requests
from dagster_dbt import DbtCliResource
from packaging import version

from amazon_orders_pipeline.accounts import Account, load_accounts
from amazon_orders_pipeline.dbt_project import DBT_PROJECT_DIR, dbt_executable, dbt_project
from amazon_orders_pipeline.emulator.embedded import embedded_emulator_url, emulator_refresh_token, emulator_seller_id
from amazon_orders_pipeline.exporters.mappings import ExportMappings, load_mappings
from amazon_orders_pipeline.settings import (
    DEFAULT_CARRIERS_FILE,
    DEFAULT_EMULATOR_SPEED,
    DEFAULT_EXPORT_DIR,
    DEFAULT_LANDING_DIR,
    DEFAULT_MAPPINGS_FILE,
    DEFAULT_MCF_CONFIG,
    DEFAULT_MCF_INBOX_DIR,
    DEFAULT_WRITEBACK_CONFIRM_MINUTES,
    DEFAULT_WRITEBACK_INBOX_DIR,
    DEFAULT_WRITES_RETENTION_DAYS,
    Settings,
)
from amazon_orders_pipeline.sp_api.auth import GrantlessAuth, LwaCredentials
from amazon_orders_pipeline.sp_api.http import LWA_TOKEN_URL, REGION_ENDPOINTS, RetryPolicy, SpApiClient
from amazon_orders_pipeline.sp_api.reports import Polling, ReportsClient
from amazon_orders_pipeline.stores import ObjectStore, store_from_settings
from amazon_orders_pipeline.warehouse_resource import WarehouseResource
from amazon_orders_pipeline.writes.mcf.config import McfConfig, load_mcf_config
from amazon_orders_pipeline.writes.mfn.config import Carriers, load_carriers


class SpApiResource(dg.ConfigurableResource):
    """Builds an SP-API client per account: Amazon when its credentials are set, the emulator otherwise."""

    accounts_file: str
    endpoint: str | None = None  # SP_API_ENDPOINT: overrides the region's endpoint
    lwa_token_url: str | None = None  # LWA_TOKEN_URL
    emulator_speed: float = DEFAULT_EMULATOR_SPEED  # EMULATOR_SPEED, for the embedded emulator only
    retry_base_delay_s: float = 1.0
    max_attempts: int = 8
    report_poll_s: float = 2.0  # the first wait for a report; each next one doubles, up to 30 s

    def reports_client(self, account: Account) -> ReportsClient:
        return ReportsClient(self.client_for(account), polling=Polling(first_s=self.report_poll_s))

    def accounts(self) -> dict[str, Account]:
        return {a.id: a for a in load_accounts(self.accounts_file)}

    def _access(self, account: Account, environ: Mapping[str, str]) -> tuple[str, str, LwaCredentials]:
        """(endpoint, LWA token URL, credentials) of an account."""
        credentials = account.credentials(environ)
        if credentials is None:
            # No credentials: the emulator. Its refresh token is derived from the account id, so each account
            # is its own synthetic seller with its own quota.
            endpoint = self.endpoint or embedded_emulator_url(self.emulator_speed)
            token_url = self.lwa_token_url or f"{endpoint.rstrip('/')}/auth/o2/token"
            return endpoint, token_url, LwaCredentials("emulator-client", "emulator-secret",
                                                       emulator_refresh_token(account.id))
        return (self.endpoint or REGION_ENDPOINTS[account.region], self.lwa_token_url or LWA_TOKEN_URL,
                credentials)

    def _retry(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, base_delay_s=self.retry_base_delay_s)

    def client_for(self, account: Account, environ: Mapping[str, str] = os.environ,
                   usage_plans: dict[str, tuple[float, int]] | None = None) -> SpApiClient:
        """`usage_plans`: the rates to start from until Amazon's headers say otherwise (Amazon's documented ones
        by default; a test gives an emulator's, which runs faster)."""
        endpoint, token_url, credentials = self._access(account, environ)
        return SpApiClient.for_credentials(endpoint, token_url, credentials, retry=self._retry(),
                                           usage_plans=usage_plans)

    def grantless_client_for(self, account: Account, scope: str,
                             environ: Mapping[str, str] = os.environ) -> SpApiClient:
        """A client for grantless operations of the account's region, authorised as the application (its client id
        and secret), not as the seller."""
        endpoint, token_url, credentials = self._access(account, environ)
        session = requests.Session()
        auth = GrantlessAuth(token_url, credentials, scope, session=session)
        return SpApiClient(endpoint, auth, session=session, retry=self._retry())

    def seller_ids(self, environ: Mapping[str, str] = os.environ) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """SellerId -> [(account id, its marketplaces)]: how an ORDER_CHANGE notification finds its account. An
        account's `seller_id` from the accounts file; an emulator account's, the one the emulator gives it."""
        out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for account in self.accounts().values():
            seller_id = account.seller_id
            if seller_id is None and account.credentials(environ) is None:
                seller_id = emulator_seller_id(account.id)
            if seller_id is not None:
                out.setdefault(seller_id, []).append((account.id, account.marketplace_ids))
        return out


class StoreResource(dg.ConfigurableResource):
    """A local folder, or an S3 prefix through boto3 when s3_uri is set (s3_endpoint_url: MinIO, moto)."""

    local_dir: str
    s3_uri: str | None = None
    s3_endpoint_url: str | None = None

    def store(self) -> ObjectStore:
        return store_from_settings(self.local_dir, self.s3_uri, self.s3_endpoint_url)


class LandingResource(StoreResource):
    """The landing area for raw pages: LANDING_DIR, or LANDING_S3_URI."""

    local_dir: str = DEFAULT_LANDING_DIR


class WritebackInboxResource(StoreResource):
    """Where the ERP's shipment and cancellation files arrive (WRITEBACK_INBOX_DIR, or WRITEBACK_INBOX_S3_URI),
    the carrier mapping (CARRIER_MAPPING_FILE), and how long a sent request may wait to show in the marts."""

    local_dir: str = DEFAULT_WRITEBACK_INBOX_DIR
    carrier_mapping_file: str = str(DEFAULT_CARRIERS_FILE)
    confirm_minutes: int = DEFAULT_WRITEBACK_CONFIRM_MINUTES
    retention_days: int = DEFAULT_WRITES_RETENTION_DAYS  # WRITES_RETENTION_DAYS

    def carriers(self) -> Carriers:
        return load_carriers(self.carrier_mapping_file)


class McfInboxResource(StoreResource):
    """Where the web shop's order files arrive (MCF_INBOX_DIR, or MCF_INBOX_S3_URI), and how they map onto
    Fulfillment Outbound orders (MCF_CONFIG_FILE)."""

    local_dir: str = DEFAULT_MCF_INBOX_DIR
    config_file: str = str(DEFAULT_MCF_CONFIG)
    retention_days: int = DEFAULT_WRITES_RETENTION_DAYS  # WRITES_RETENTION_DAYS

    def config(self) -> McfConfig:
        return load_mcf_config(self.config_file)


class ExportResource(StoreResource):
    """Where export files go (EXPORT_DIR, or EXPORT_S3_URI) and how values map (EXPORT_MAPPINGS_FILE)."""

    local_dir: str = DEFAULT_EXPORT_DIR
    mappings_file: str = str(DEFAULT_MAPPINGS_FILE)
    include_mcf_orders: bool = False  # EXPORT_MCF_ORDERS

    def mappings(self) -> ExportMappings:
        return load_mappings(self.mappings_file)


class DbtResource(DbtCliResource):
    """dagster-dbt's resource, less two costs it pays on every run, which the project does not need (measured
    here: 3.3 s and 2.2 s of a 15.6 s transform run):
    - it asks `dbt --version` in a subprocess, for a dbt that is this venv's own dbt-core (dbt_executable), whose
      version the package metadata gives;
    - it builds a dbt adapter in the run's process, parsing dbt's macros, for column metadata and row counts that
      the project does not fetch (the window counts come from WarehouseResource). Without one, dagster-dbt goes on
      as it does when building one fails.
    test_definitions checks that dagster-dbt still has both, so an upgrade that renames them does not pass
    unnoticed."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args) -> None:
        return None


def dbt_resource() -> DbtResource:
    return DbtResource(project_dir=dbt_project(), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable())


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """One set of resources, from the settings (see the README's configuration table)."""
    return {
        "sp_api": SpApiResource(
            accounts_file=str(settings.accounts_file),
            endpoint=settings.sp_api_endpoint,
            lwa_token_url=settings.lwa_token_url,
            emulator_speed=settings.emulator_speed,
        ),
        "landing": LandingResource(
            local_dir=settings.landing_dir,
            s3_uri=settings.landing_s3_uri,
            s3_endpoint_url=settings.landing_s3_endpoint_url,
        ),
        "duckdb": WarehouseResource(
            database=settings.duckdb_path,
            lock_timeout_s=settings.duckdb_lock_timeout_s,
            **({"lake_catalog": settings.lake.catalog, "lake_data_path": settings.lake.data_path,
                "lake_s3_endpoint_url": settings.lake.s3_endpoint_url} if settings.lake else {}),
        ),
        "dbt": dbt_resource(),
        "exports": ExportResource(
            local_dir=settings.export_dir,
            s3_uri=settings.export_s3_uri,
            s3_endpoint_url=settings.export_s3_endpoint_url,
            mappings_file=settings.export_mappings_file,
            include_mcf_orders=settings.export_mcf_orders,
        ),
        "mcf_inbox": McfInboxResource(
            local_dir=settings.mcf_inbox_dir,
            s3_uri=settings.mcf_inbox_s3_uri,
            s3_endpoint_url=settings.mcf_inbox_s3_endpoint_url,
            config_file=settings.mcf_config_file,
            retention_days=settings.writes_retention_days,
        ),
        "writeback_inbox": WritebackInboxResource(
            local_dir=settings.writeback_inbox_dir,
            s3_uri=settings.writeback_inbox_s3_uri,
            s3_endpoint_url=settings.writeback_inbox_s3_endpoint_url,
            carrier_mapping_file=settings.carrier_mapping_file,
            confirm_minutes=settings.writeback_confirm_minutes,
            retention_days=settings.writes_retention_days,
        ),
    }
