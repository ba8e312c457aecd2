"""A folder (or S3 prefix) that another system drops request files into, read once each: the files waiting, the
ledger of files and lines taken (in DuckDB, per schema), and the move to `processed/` once a file is recorded.
Used by the write-back of MFN shipments (writeback/) and by the storefront's MCF orders (mcf/).

A file is recorded (its lines with their outcomes, in the caller's transaction) before it moves, so a crash
between the two leaves a file the ledger knows by its hash: it is only moved, never taken twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime

import duckdb

from amazon_orders_pipeline.stores import ObjectStore

PROCESSED = "processed/"


def ledger_ddl(schema: str) -> str:
    return f"""
create schema if not exists {schema};
create table if not exists {schema}.inbox_files (
    file_key     varchar     not null,
    sha256       varchar     not null,
    received_at  timestamptz not null,
    line_count   integer     not null,
    primary key (file_key, sha256)
);
create table if not exists {schema}.inbox_lines (
    file_key     varchar     not null,
    sha256       varchar     not null,
    line_number  integer     not null,
    outcome      varchar     not null,  -- accepted | duplicate | invalid
    reason       varchar,
    request_id   varchar,
    primary key (file_key, sha256, line_number)
);
"""


def waiting(inbox: ObjectStore) -> list[str]:
    """The files waiting in the inbox: not yet moved to `processed/`, and not hidden (a writer's temporary file)."""
    return [k for k in inbox.keys("") if not k.startswith(PROCESSED)
            and not any(part.startswith(".") for part in k.split("/"))]


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def taken(conn: duckdb.DuckDBPyConnection, schema: str, key: str, sha256: str) -> bool:
    return conn.execute(f"select 1 from {schema}.inbox_files where file_key = ? and sha256 = ?",  # noqa: S608
                        [key, sha256]).fetchone() is not None


def record(conn: duckdb.DuckDBPyConnection, schema: str, key: str, sha256: str,
           lines: Iterable[tuple[int, str, str | None, str | None]], now: datetime) -> int:
    """The file and its lines (number, outcome, reason, request id), inside the caller's transaction."""
    rows = [[key, sha256, n, outcome, reason, request_id] for n, outcome, reason, request_id in lines]
    if rows:
        conn.executemany(f"insert into {schema}.inbox_lines values (?, ?, ?, ?, ?, ?)", rows)  # noqa: S608
    conn.execute(f"insert into {schema}.inbox_files values (?, ?, ?, ?)", [key, sha256, now, len(rows)])  # noqa: S608
    return len(rows)


def invalid_lines(conn: duckdb.DuckDBPyConnection, schema: str, key: str, sha256: str) -> list[dict]:
    return [{"file": key, "line": line, "reason": reason} for line, reason in conn.execute(
        f"select line_number, reason from {schema}.inbox_lines where file_key = ? and sha256 = ? "  # noqa: S608
        "and outcome = 'invalid' order by line_number", [key, sha256]).fetchall()]


def move_to_processed(inbox: ObjectStore, key: str, content: bytes) -> None:
    """A copy first, then the delete: a crash in between leaves the file in one place or in both, never in none."""
    inbox.put(PROCESSED + key, content)
    inbox.delete(key)


def select_rows(conn: duckdb.DuckDBPyConnection, table: str, where: str, params: list | None = None,
                order: str = "received_at") -> list[dict]:
    """Rows of one of the requests tables, as dicts."""
    cursor = conn.execute(f"select * from {table} where {where} order by {order}", params or [])  # noqa: S608
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def update_rows(conn: duckdb.DuckDBPyConnection, table: str, key: str, changes: Iterable[tuple[str, dict]],
                now: datetime) -> None:
    """Set columns of rows, (key value, {column: value}) each, and their updated_at, in one transaction."""
    changes = list(changes)
    if not changes:
        return
    conn.execute("begin")
    try:
        for key_value, values in changes:
            values = {**values, "updated_at": now}
            columns = ", ".join(f"{c} = ?" for c in values)
            conn.execute(f"update {table} set {columns} where {key} = ?",  # noqa: S608 - our own names
                         [*(json.dumps(v) if isinstance(v, dict) else v for v in values.values()), key_value])
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
