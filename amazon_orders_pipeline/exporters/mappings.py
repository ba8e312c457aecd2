"""Export mappings as configuration: Amazon status -> Salesforce picklist and ERP status, SKU -> ERP product code."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from amazon_orders_pipeline.settings import DEFAULT_MAPPINGS_FILE, ConfigError


class UnmappedStatusError(ValueError):
    pass


@dataclass(frozen=True)
class ExportMappings:
    salesforce_status: Mapping[str, str]
    erp_status: Mapping[str, str]
    erp_include_pending: bool
    sku_product_codes: Mapping[str, str] = field(default_factory=dict)

    def status(self, system: str, amazon_status: str) -> str:
        """The target system's value for an Amazon status; an unmapped status is an error, never a blank."""
        mapping = self.salesforce_status if system == "salesforce" else self.erp_status
        value = mapping.get(amazon_status)
        if value is None:
            raise UnmappedStatusError(f"order status {amazon_status!r} has no {system} mapping in the export "
                                      "mappings file")
        return value

    def unmapped_statuses(self, statuses: Iterable[str]) -> dict[str, list[str]]:
        """System -> the statuses it has no mapping for; empty when every status maps everywhere."""
        missing = {"salesforce": sorted({s for s in statuses if s not in self.salesforce_status}),
                   "erp": sorted({s for s in statuses if s not in self.erp_status})}
        return {system: found for system, found in missing.items() if found}


def _status_map(section: dict, where: str) -> dict[str, str]:
    mapping = section.get("order_status")
    if not isinstance(mapping, dict) or not mapping:
        raise ConfigError(f"{where}.order_status must map Amazon statuses to values")
    for key, value in mapping.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}.order_status.{key} must be a non-empty string, got {value!r}")
    return {str(k): v for k, v in mapping.items()}


def load_sku_map(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError(f"cannot read the SKU map {path}: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"sku", "product_code"} <= set(reader.fieldnames):
        raise ConfigError(f"{path}: the SKU map needs the columns sku,product_code (got {reader.fieldnames})")
    codes: dict[str, str] = {}
    for line, row in enumerate(reader, start=2):
        sku, code = (row.get("sku") or "").strip(), (row.get("product_code") or "").strip()
        if not sku or not code:
            raise ConfigError(f"{path}:{line}: sku and product_code must both be set")
        if codes.get(sku, code) != code:
            raise ConfigError(f"{path}:{line}: SKU {sku!r} is mapped twice, to {codes[sku]!r} and {code!r}")
        codes[sku] = code
    return codes


def load_mappings(path: str | Path | None = None) -> ExportMappings:
    path = Path(path) if path else DEFAULT_MAPPINGS_FILE
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read the export mappings {path}: {e}") from None
    salesforce, erp = doc.get("salesforce"), doc.get("erp")
    if not isinstance(salesforce, dict) or not isinstance(erp, dict):
        raise ConfigError(f"{path}: expected the sections 'salesforce' and 'erp'")
    sku_map = erp.get("sku_map")
    return ExportMappings(
        salesforce_status=_status_map(salesforce, f"{path}: salesforce"),
        erp_status=_status_map(erp, f"{path}: erp"),
        erp_include_pending=bool(erp.get("include_pending", False)),
        sku_product_codes=load_sku_map(path.parent / sku_map) if sku_map else {},
    )
