"""A set of export files and its manifest, delivered to `<system>/<account>/<partition>/` in an object store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from amazon_orders_pipeline.exporters.formats import sha256
from amazon_orders_pipeline.stores import ObjectStore

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ExportFiles:
    """Files (name -> bytes, with their row counts) and what the manifest says besides them. `primary` names the
    file whose rows are the export's records (the upsert rows, or the documents)."""

    system: str
    account_id: str
    partition: date
    files: dict[str, bytes]
    rows: dict[str, int]
    primary: str
    manifest: dict = field(default_factory=dict)

    def prefix(self) -> str:
        return f"{self.system}/{self.account_id}/{self.partition.isoformat()}"

    def manifest_bytes(self) -> bytes:
        doc = {
            **self.manifest,
            "system": self.system,
            "account": self.account_id,
            "partition": self.partition.isoformat(),
            "files": {name: {"rows": self.rows[name], "bytes": len(data), "sha256": sha256(data)}
                      for name, data in sorted(self.files.items())},
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def deliver(store: ObjectStore, export: ExportFiles) -> list[str]:
    """Write every file atomically, the manifest last: a loader that waits for the manifest sees whole files."""
    keys = []
    for name, data in sorted(export.files.items()):
        key = f"{export.prefix()}/{name}"
        store.put(key, data)
        keys.append(key)
    key = f"{export.prefix()}/{MANIFEST}"
    store.put(key, export.manifest_bytes())
    return keys + [key]
