"""The production warehouse: DuckLake, its catalog in PostgreSQL and its data files in S3, attached to DuckDB.

The same SQL and dbt models run on it as on the local file: a connection attaches the lake as `lake` and makes it
the default database, so `raw.order_pages` and `main.orders` name the lake's tables.

- Extensions come from their PyPI wheels (`duckdb-extension-ducklake`, `-postgres-scanner`, `-httpfs`) and are
  loaded by path: DuckDB's INSTALL downloads from DuckDB's site, and nothing is downloaded at run time.
- Credentials never pass through a setting, a dbt var or a log line: the S3 keys are boto3's (its environment and
  files, as for the landing area and the exports), given to DuckDB as a temporary secret; the catalog's password is
  libpq's (PGPASSWORD or ~/.pgpass), never in DUCKLAKE_CATALOG.
- Several writers, on several machines, commit through DuckLake's transactions. DuckLake retries a commit that does
  not conflict by itself; a real conflict (two transactions deleting from the same data file) fails the later one,
  and `retry_conflicts` runs that whole transaction again, a bounded number of times.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import duckdb

from amazon_orders_pipeline.settings import LakeConfig

ALIAS = "lake"  # the name the statements below attach and use
EXTENSIONS = ("httpfs", "postgres_scanner", "ducklake")
# A transaction that lost to another writer is run again up to this many times, after a growing pause.
CONFLICT_ATTEMPTS = 6
CONFLICT_FIRST_PAUSE_S = 0.2

T = TypeVar("T")


def extension_file(name: str) -> str:
    """The extension's file inside its PyPI wheel, for this DuckDB version."""
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        raise RuntimeError(f"the DuckDB extension {name} is not installed: pip install "
                           f"'duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}'") from None
    folder = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    files = sorted(folder.glob("*.duckdb_extension"))
    if not files:
        raise RuntimeError(f"duckdb-extension-{name} has no build for DuckDB {duckdb.__version__} ({folder}); "
                           "install the wheel of the same version as duckdb")
    return str(files[0])


def load_extensions(conn: duckdb.DuckDBPyConnection) -> None:
    for name in EXTENSIONS:
        conn.load_extension(extension_file(name))


# The S3 secret's options that may be set, in order; their values are always parameters.
S3_SECRET_OPTIONS = ("region", "key_id", "secret", "session_token", "endpoint", "url_style", "use_ssl")


def s3_secret(conn: duckdb.DuckDBPyConnection, endpoint_url: str | None) -> None:
    """boto3's credentials and region as DuckDB's temporary S3 secret (kept in memory, gone with the connection)."""
    import boto3

    session = boto3.Session()
    options: dict[str, str | bool] = {"region": session.region_name or "us-east-1"}
    credentials = session.get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options.update(key_id=frozen.access_key, secret=frozen.secret_key)
        if frozen.token:
            options["session_token"] = frozen.token
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        options.update(endpoint=parts.netloc, url_style="path", use_ssl=parts.scheme == "https")
    names = [name for name in S3_SECRET_OPTIONS if name in options]
    conn.execute("create or replace temporary secret lake_s3 (type s3, " + ", ".join(f"{n} ?" for n in names) + ")",
                 [options[n] for n in names])


ATTACH = "attach if not exists 'ducklake:lake_catalog' as lake"
ATTACH_READ_ONLY = ATTACH + " (read_only)"


def attach(conn: duckdb.DuckDBPyConnection, config: LakeConfig, read_only: bool = False) -> None:
    """Load the extensions, give DuckDB the S3 credentials, attach the lake as `lake` and use it. Where the lake is
    goes to DuckLake as a temporary secret of its own, so that the ATTACH statement is a constant."""
    load_extensions(conn)
    s3_secret(conn, config.s3_endpoint_url)
    conn.execute("create or replace temporary secret lake_catalog (type ducklake, metadata_path ?, data_path ?)",
                 ["postgres:" + config.catalog, config.data_path])
    # The first attach of a new lake creates its catalog tables. Two workers doing that at once: one loses on
    # PostgreSQL's unique names, and its next attach finds the catalog made.
    retry_conflicts(lambda: conn.execute(ATTACH_READ_ONLY if read_only else ATTACH), "attaching the lake",
                    retryable=lambda e: "Failed to initialize DuckLake" in str(e))
    conn.execute("use lake")


def connect(config: LakeConfig, read_only: bool = False, settings: dict | None = None
            ) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached and in use."""
    conn = duckdb.connect(config=dict(settings or {}))
    try:
        conn.execute("set timezone = 'UTC'")
        attach(conn, config, read_only=read_only)
    except BaseException:
        conn.close()
        raise
    return conn


def is_conflict_message(text: str) -> bool:
    """DuckLake's words for a commit that lost to another writer's: "Transaction conflict - attempting to insert
    into table ... but another transaction has deleted from it" and the like."""
    return "transaction conflict" in text.lower()


def is_conflict(error: BaseException) -> bool:
    """A transaction that lost to another writer's commit (safe to run again from the start)."""
    return isinstance(error, duckdb.Error) and is_conflict_message(str(error))


class LakeConflictError(RuntimeError):
    """Still conflicting after CONFLICT_ATTEMPTS attempts."""


def retry_conflicts(work: Callable[[], T], what: str, log: Callable[[str], None] | None = None,
                    attempts: int = CONFLICT_ATTEMPTS, retryable: Callable[[BaseException], bool] = is_conflict) -> T:
    """Run `work` (one whole transaction, rolled back when it raises, or a whole dbt build) until it commits
    without a conflict, at most `attempts` times. Other errors pass at once."""
    pause = CONFLICT_FIRST_PAUSE_S
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as e:
            if not retryable(e):
                raise
            if attempt == attempts:
                raise LakeConflictError(
                    f"{what}: DuckLake reported a write conflict {attempts} times in a row; other writers keep "
                    f"changing the same tables. Last error: {e}") from e
            if log:
                log(f"{what}: write conflict on DuckLake (attempt {attempt} of {attempts}), trying again: {e}")
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
    raise AssertionError("unreachable")
