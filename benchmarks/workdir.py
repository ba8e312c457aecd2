"""The pipeline's environment for a run against an emulator, with every file it writes under one directory.
Shared by the tests and the benchmarks."""

from __future__ import annotations

from pathlib import Path


def emulator_env(emulator_url: str, workdir: Path, accounts_file: Path,
                 partitions_start: str = "2026-01-01") -> dict[str, str]:
    """The accounts file, the DuckDB file (alone in `warehouse/`), the landing area and exports under `workdir`, and
    the emulator as both the SP-API and the LWA endpoint."""
    return {
        "ACCOUNTS_FILE": str(accounts_file),
        "DUCKDB_PATH": str(workdir / "warehouse" / "orders.duckdb"),
        "LANDING_DIR": str(workdir / "landing"),
        "EXPORT_DIR": str(workdir / "exports"),
        "SP_API_ENDPOINT": emulator_url,
        "LWA_TOKEN_URL": f"{emulator_url}/auth/o2/token",
        "PARTITIONS_START_DATE": partitions_start,
    }
