"""The pipeline's environment for a run against an emulator, with every file it writes under one directory.
Shared by the tests and the benchmarks."""

from __future__ import annotations

from pathlib import Path

# Two accounts in two regions, one with PII: what most tests run against.
TWO_ACCOUNTS = """
accounts:
  - id: acme-us
    region: NA
    marketplace_ids: [ATVPDKIKX0DER]
    pii: false
  - id: acme-eu
    region: EU
    marketplace_ids: [A1F83G8C2ARO7P, A1PA6795UKMFR9]
    pii: true
"""


def emulator_env(emulator_url: str, workdir: Path, accounts_file: Path,
                 partitions_start: str = "2026-01-01") -> dict[str, str]:
    """The accounts file, the DuckDB file (alone in `warehouse/`), the landing area and exports under `workdir`, and
    the emulator as both the SP-API and the LWA endpoint."""
    return {
        "ACCOUNTS_FILE": str(accounts_file),
        "DUCKDB_PATH": str(workdir / "warehouse" / "orders.duckdb"),
        "LANDING_DIR": str(workdir / "landing"),
        "EXPORT_DIR": str(workdir / "exports"),
        "WRITEBACK_INBOX_DIR": str(workdir / "writeback-inbox"),
        "MCF_INBOX_DIR": str(workdir / "mcf-inbox"),
        "SP_API_ENDPOINT": emulator_url,
        "LWA_TOKEN_URL": f"{emulator_url}/auth/o2/token",
        "PARTITIONS_START_DATE": partitions_start,
    }
