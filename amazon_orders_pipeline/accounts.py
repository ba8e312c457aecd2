"""The accounts config: which seller accounts to extract, where, with which credential env vars, PII or not."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from amazon_orders_pipeline.settings import ConfigError
from amazon_orders_pipeline.sp_api.auth import LwaCredentials
from amazon_orders_pipeline.sp_api.http import REGION_ENDPOINTS
from amazon_orders_pipeline.sp_api.marketplaces import describe, region_of

ACCOUNT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# v2026-01-01 is the default; v0 (getOrders + getOrderItems) serves sellers whose app is not yet migrated.
API_VERSIONS = ("2026-01-01", "v0")
# Where a backfill of more than a few days gets its orders: order reports (a year in ~13 requests) or the account's
# Orders API, page by page. Daily runs use the Orders API either way.
HISTORY_SOURCES = ("reports", "api")


@dataclass(frozen=True)
class Account:
    id: str
    region: str
    marketplace_ids: tuple[str, ...]
    client_id_env: str
    client_secret_env: str
    refresh_token_env: str
    pii: bool = False
    api_version: str = "2026-01-01"
    history_source: str = "reports"
    seller_id: str | None = None  # the selling partner (merchant) id ORDER_CHANGE notifications name

    def credentials(self, environ: Mapping[str, str] = os.environ) -> LwaCredentials | None:
        """The account's LWA credentials from the environment, or None when none are set (emulator mode)."""
        names = (self.client_id_env, self.client_secret_env, self.refresh_token_env)
        values = [environ.get(n, "") for n in names]
        if not any(values):
            return None
        missing = [n for n, v in zip(names, values, strict=True) if not v]
        if missing:
            raise ConfigError(f"account {self.id!r}: credential variables not set: {', '.join(missing)}")
        return LwaCredentials(*values)


def load_accounts(path: str | Path) -> list[Account]:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read accounts file {path}: {e}") from None
    entries = (doc or {}).get("accounts")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected a non-empty list under 'accounts'")
    accounts: list[Account] = []
    for i, e in enumerate(entries):
        where = f"{path}: accounts[{i}]"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: expected a mapping")
        account_id = str(e.get("id", ""))
        if not ACCOUNT_ID_RE.match(account_id):
            raise ConfigError(f"{where}: id {account_id!r} must be lowercase letters, digits, '-' or '_'")
        region = str(e.get("region", "")).upper()
        if region not in REGION_ENDPOINTS:
            raise ConfigError(f"{where}: region must be one of {sorted(REGION_ENDPOINTS)}, got {region!r}")
        marketplaces = e.get("marketplace_ids")
        if not isinstance(marketplaces, list) or not marketplaces or len(marketplaces) > 50:
            raise ConfigError(f"{where}: marketplace_ids must list 1 to 50 marketplace ids")
        # A refresh token belongs to one region, and that region's endpoint serves only its own marketplaces.
        outside = [describe(str(m)) for m in marketplaces if region_of(str(m)) != region]
        if outside:
            raise ConfigError(f"{where} ({account_id}): region {region} does not serve {', '.join(outside)}; "
                              "list each region's marketplaces under an account of that region")
        creds = e.get("credentials") or {}
        upper = account_id.upper().replace("-", "_")
        api_version = str(e.get("api_version", "2026-01-01"))
        if api_version not in API_VERSIONS:
            raise ConfigError(f"{where}: api_version must be one of {API_VERSIONS}, got {api_version!r}")
        # Reports are the default history source for v2026 accounts; a v0 account keeps its API unless it asks,
        # since an app not yet migrated may not have been granted the Reports API's role either.
        history_source = str(e.get("history_source", "reports" if api_version == "2026-01-01" else "api"))
        if history_source not in HISTORY_SOURCES:
            raise ConfigError(f"{where}: history_source must be one of {HISTORY_SOURCES}, got {history_source!r}")
        seller_id = e.get("seller_id")
        if seller_id is not None and not re.fullmatch(r"[A-Z0-9]{8,20}", str(seller_id)):
            raise ConfigError(f"{where}: seller_id must be the selling partner id (upper-case letters and digits), "
                              f"got {seller_id!r}")
        accounts.append(Account(
            id=account_id,
            region=region,
            marketplace_ids=tuple(str(m) for m in marketplaces),
            client_id_env=creds.get("client_id_env", f"SP_API_{upper}_CLIENT_ID"),
            client_secret_env=creds.get("client_secret_env", f"SP_API_{upper}_CLIENT_SECRET"),
            refresh_token_env=creds.get("refresh_token_env", f"SP_API_{upper}_REFRESH_TOKEN"),
            pii=bool(e.get("pii", False)),
            api_version=api_version,
            history_source=history_source,
            seller_id=None if seller_id is None else str(seller_id),
        ))
    ids = [a.id for a in accounts]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: account ids must be unique, got {ids}")
    return accounts
