"""How the shop's orders map onto Fulfillment Outbound orders: the fulfilling account, shipping speeds, SKUs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.settings import DEFAULT_MCF_CONFIG, ConfigError

SPEEDS = ("Standard", "Expedited", "Priority", "ScheduledDelivery")
POLICIES = ("FillOrKill", "FillAll", "FillAllAvailable")


@dataclass(frozen=True)
class McfConfig:
    account: str | None = None
    marketplace_id: str | None = None
    shipping_speeds: dict[str, str] = field(default_factory=lambda: {"default": "Standard"})
    skus: dict[str, str] = field(default_factory=dict)
    preview: bool = True
    fulfillment_policy: str = "FillOrKill"
    displayable_order_comment: str = "Thank you for your order!"
    stuck_after_hours: float = 24.0

    def speed(self, method: str | None) -> str:
        return self.shipping_speeds.get((method or "").strip().lower(), self.shipping_speeds["default"])

    def seller_sku(self, sku: str) -> str:
        return self.skus.get(sku, sku)

    def fulfilling(self, accounts: list[Account]) -> tuple[Account, str]:
        """(the account whose inventory ships, its marketplace)."""
        if not accounts:
            raise ConfigError("MCF needs an account in the accounts file")
        chosen = accounts[0] if self.account is None else next((a for a in accounts if a.id == self.account), None)
        if chosen is None:
            raise ConfigError(f"MCF config: account {self.account!r} is not in the accounts file")
        marketplace = self.marketplace_id or chosen.marketplace_ids[0]
        if marketplace not in chosen.marketplace_ids:
            raise ConfigError(f"MCF config: marketplace {marketplace} is not one of account {chosen.id}'s")
        return chosen, marketplace


def load_mcf_config(path: str | Path = DEFAULT_MCF_CONFIG) -> McfConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"MCF config {path}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"MCF config {path}: expected a mapping")
    speeds = {str(k).strip().lower(): str(v) for k, v in (data.get("shipping_speeds") or {}).items()}
    speeds.setdefault("default", "Standard")
    if bad := [v for v in speeds.values() if v not in SPEEDS]:
        raise ConfigError(f"MCF config {path}: shipping speeds must be among {list(SPEEDS)}, got {bad}")
    policy = str(data.get("fulfillment_policy") or "FillOrKill")
    if policy not in POLICIES:
        raise ConfigError(f"MCF config {path}: fulfillment_policy must be one of {list(POLICIES)}")
    try:
        stuck = float(data.get("stuck_after_hours", 24))
    except (TypeError, ValueError):
        raise ConfigError(f"MCF config {path}: stuck_after_hours must be a number") from None
    return McfConfig(account=data.get("account") or None, marketplace_id=data.get("marketplace_id") or None,
                     shipping_speeds=speeds, skus={str(k): str(v) for k, v in (data.get("skus") or {}).items()},
                     preview=bool(data.get("preview", True)), fulfillment_policy=policy,
                     displayable_order_comment=str(data.get("displayable_order_comment") or "")[:750] or " ",
                     stuck_after_hours=stuck)
