"""The ERP's carrier names to Amazon's CarrierCode (required in every marketplace since 2022), from a mapping file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from amazon_orders_pipeline.settings import DEFAULT_CARRIERS_FILE, ConfigError

OTHER = "Other"


@dataclass(frozen=True)
class Carrier:
    code: str  # Amazon's CarrierCode
    name: str | None = None  # CarrierName, sent with code "Other"


class UnknownCarrier(ValueError):
    pass


@dataclass(frozen=True)
class Carriers:
    by_name: dict[str, Carrier]
    source: str

    def resolve(self, name: str) -> Carrier:
        carrier = self.by_name.get(_key(name))
        if carrier is None:
            raise UnknownCarrier(f"unknown carrier {name.strip()!r}: add it to the carrier mapping ({self.source})")
        return carrier


def _key(name: str) -> str:
    return " ".join(name.split()).lower()


def load_carriers(path: str | Path = DEFAULT_CARRIERS_FILE) -> Carriers:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"carrier mapping {path}: {e}") from None
    entries = data.get("carriers") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"carrier mapping {path}: expected a non-empty `carriers:` mapping of name -> {{code}}")
    out: dict[str, Carrier] = {}
    for name, entry in entries.items():
        code = entry.get("code") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not code.strip():
            raise ConfigError(f"carrier mapping {path}: {name!r} has no `code`")
        display = entry.get("name")
        if code == OTHER and not (isinstance(display, str) and display.strip()):
            raise ConfigError(f"carrier mapping {path}: {name!r} maps to {OTHER!r} and needs a `name` to send")
        out[_key(str(name))] = Carrier(code.strip(), display.strip() if isinstance(display, str) else None)
    return Carriers(out, str(path))
