"""A folder (or S3 prefix) that another system drops request files into, read once each: the files waiting, the
ledger of files and lines taken (in DuckDB, per schema), and the move to `processed/` once a file is recorded.
Used by the write-back of MFN shipments (writeback/) and by the storefront's MCF orders (mcf/).

A file is recorded (its lines with their outcomes, in the caller's transaction) before it moves, so a crash
between the two leaves a file the ledger knows by its hash: it is only moved, never taken twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from amazon_orders_pipeline.stores import ObjectStore

PROCESSED = "processed/"
# The schemas and tables these helpers may name: identifiers come from this fixed list, values always as `?`.
SCHEMAS = ("writeback", "mcf")
TABLES = {"writeback.requests": "request_id", "mcf.fulfillment_orders": "shop_order_id"}
ORDERS = ("received_at, request_id", "received_at, shop_order_id")


# The inbox ledger's statements, one set per schema, made once from the fixed list above.
LEDGER_SQL = {schema: {
    "taken": "select 1 from " + schema + ".inbox_files where file_key = ? and sha256 = ?",
    "file": "insert into " + schema + ".inbox_files values (?, ?, ?, ?)",
    "lines": "insert into " + schema + ".inbox_lines values (?, ?, ?, ?, ?, ?)",
    "invalid": "select line_number, reason from " + schema + ".inbox_lines where file_key = ? and sha256 = ? "
               "and outcome = 'invalid' order by line_number",
} for schema in SCHEMAS}


def _known(name: str, allowed) -> str:
    if name not in allowed:
        raise ValueError(f"{name!r} is not one of the write-back's own names: {sorted(allowed)}")
    return name


def ledger_ddl(schema: str) -> str:
    schema = _known(schema, SCHEMAS)
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


class LineError(ValueError):
    """Why one line of a request file is not a request."""


@dataclass(frozen=True)
class LineOutcome:
    line_number: int
    outcome: str  # accepted | invalid (duplicate is decided against the ledger)
    reason: str | None = None
    request_id: str | None = None


def file_lines(content: bytes) -> list[tuple[int, bytes, bool]]:
    """A request file's lines: (number from 1, bytes, whether a newline ended it, so a cut-off last line can be
    told apart), a UTF-8 byte-order mark and blank lines left out."""
    raw = content.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    out = []
    for n, line in enumerate(raw, start=1):
        line = line.rstrip(b"\r")
        if line.strip():
            out.append((n, line, n < len(raw)))
    return out


def utf8(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LineError(f"not UTF-8 text (byte {e.start + 1})") from None


def json_object_line(line: bytes, ended: bool) -> dict:
    """A JSON Lines line as an object, or the LineError saying why not."""
    text = utf8(line)
    try:
        data = json.loads(text)
    except ValueError:
        raise LineError("not valid JSON" + ("" if ended else " (the file may be truncated)")) from None
    if not isinstance(data, dict):
        raise LineError("not a JSON object")
    return data


def waiting(inbox: ObjectStore) -> list[str]:
    """The files waiting in the inbox: not yet moved to `processed/`, and not hidden (a writer's temporary file)."""
    return [k for k in inbox.keys("") if not k.startswith(PROCESSED)
            and not any(part.startswith(".") for part in k.split("/"))]


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def taken(conn: duckdb.DuckDBPyConnection, schema: str, key: str, sha256: str) -> bool:
    return conn.execute(LEDGER_SQL[_known(schema, SCHEMAS)]["taken"], [key, sha256]).fetchone() is not None


def record(conn: duckdb.DuckDBPyConnection, schema: str, key: str, sha256: str,
           lines: Iterable[tuple[int, str, str | None, str | None]], now: datetime) -> int:
    """The file and its lines (number, outcome, reason, request id), inside the caller's transaction."""
    sql = LEDGER_SQL[_known(schema, SCHEMAS)]
    rows = [[key, sha256, n, outcome, reason, request_id] for n, outcome, reason, request_id in lines]
    if rows:
        conn.executemany(sql["lines"], rows)
    conn.execute(sql["file"], [key, sha256, now, len(rows)])
    return len(rows)


def invalid_lines(conn: duckdb.DuckDBPyConnection, schema: str, key: str, sha256: str) -> list[dict]:
    return [{"file": key, "line": line, "reason": reason} for line, reason in conn.execute(
        LEDGER_SQL[_known(schema, SCHEMAS)]["invalid"], [key, sha256]).fetchall()]


def move_to_processed(inbox: ObjectStore, key: str, content: bytes) -> None:
    """A copy first, then the delete: a crash in between leaves the file in one place or in both, never in none."""
    inbox.put(PROCESSED + key, content)
    inbox.delete(key)


# The conditions select_rows can make: (column, operator, value), the column one of the table's.
OPERATORS = {
    "=": lambda got, value: got is not None and got == value,
    "<": lambda got, value: got is not None and got < value,
    "in": lambda got, value: got is not None and got in value,
    "null or not in": lambda got, value: got is None or got not in value,
}
Condition = tuple[str, str, object]
# Each requests table's statement per order, made once from the fixed lists above: no SQL is built per call.
SELECT_SQL = {(table, order): "select * from " + table + " order by " + order for table in TABLES for order in ORDERS}


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema || '.' || table_name = ?",
        [table]).fetchall()}


def select_rows(conn: duckdb.DuckDBPyConnection, table: str, *conditions: Condition,
                order: str = "received_at, request_id") -> list[dict]:
    """Rows of one of the requests tables matching every condition, as dicts. A condition is (column, operator,
    value) with the column one of the table's and the operator one of OPERATORS (an `in` value is a list). The
    tables are small queues, read whole by a fixed statement and filtered here, so no SQL comes from a caller."""
    cursor = conn.execute(SELECT_SQL[(_known(table, TABLES), _known(order, ORDERS))])
    names = [d[0] for d in cursor.description]
    tests = [(names.index(_known(column, names)), OPERATORS[_known(op, OPERATORS)], value)
             for column, op, value in conditions]
    rows = (dict(zip(names, row, strict=True)) for row in cursor.fetchall())
    return [r for r in rows if all(test(r[names[n]], value) for n, test, value in tests)]


def update_rows(conn: duckdb.DuckDBPyConnection, table: str, key: str, changes: Iterable[tuple[str, dict]],
                now: datetime) -> None:
    """Set columns of rows, (key value, {column: value}) each, and their updated_at, in one transaction."""
    table, key = _known(table, TABLES), _known(key, {TABLES[table]})
    changes = list(changes)
    if not changes:
        return
    columns_of = _columns(conn, table)
    conn.execute("begin")
    try:
        for key_value, values in changes:
            values = {**values, "updated_at": now}
            for column in values:
                _known(column, columns_of)
            columns = ", ".join(f"{c} = ?" for c in values)
            conn.execute(f"update {table} set {columns} where {key} = ?",  # noqa: S608 - our own names
                         [*(json.dumps(v) if isinstance(v, dict) else v for v in values.values()), key_value])
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
