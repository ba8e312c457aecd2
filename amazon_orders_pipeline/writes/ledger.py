"""The writes' ledgers in DuckDB, one schema per write: the inbox's files and lines taken, and a requests table read,
changed and pruned by fixed statements only. Every statement is made once, when its table is declared, from the
table's own names; values always go as `?` parameters, so no SQL is built per call and none comes from a caller."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

SCHEMAS = ("writeback", "mcf")

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
        raise ValueError(f"{name!r} is not one of the writes' own names: {sorted(allowed)}")
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


@dataclass(frozen=True)
class RequestTable:
    """A write's requests table and every statement the write runs on it: `selections` name a fixed `where` clause
    each (its values as `?`), `columns` are the ones a pass may change, `closed` says which requests a prune may
    delete (its last `?` the cutoff) and `pruned_with` what goes with them."""

    name: str
    key: str
    order: str
    selections: Mapping[str, str]
    columns: tuple[str, ...]
    closed: str
    pruned_with: tuple[str, ...] = ()
    sql: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sql = {f"select {n}": f"select * from {self.name} where {w} order by {self.order}"
               for n, w in self.selections.items()}
        sql["select all"] = f"select * from {self.name} order by {self.order}"
        sql.update({f"set {c}": f"update {self.name} set {c} = ?, updated_at = ? where {self.key} = ?"
                    for c in self.columns})
        sql["closed"] = f"select count(*) from {self.name} where {self.closed}"
        sql["prune"] = f"delete from {self.name} where {self.closed}"
        object.__setattr__(self, "sql", sql)

    def rows(self, conn: duckdb.DuckDBPyConnection, selection: str | None = None, *values: object) -> list[dict]:
        """The requests of a named selection (all of them by default), oldest first, as dicts."""
        statement = self.sql["select all" if selection is None else f"select {_known(selection, self.selections)}"]
        cursor = conn.execute(statement, [list(v) if isinstance(v, tuple) else v for v in values])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def update(self, conn: duckdb.DuckDBPyConnection, changes: Iterable[tuple[str, dict]], now: datetime) -> None:
        """Set columns of requests, (key value, {column: value}) each, and their updated_at, in one transaction."""
        changes = list(changes)
        if not changes:
            return
        statements = [(self.sql[f"set {_known(c, self.columns)}"], key, v)
                      for key, values in changes for c, v in values.items()]
        conn.execute("begin")
        try:
            for statement, key, value in statements:
                conn.execute(statement, [json.dumps(value) if isinstance(value, dict) else value, now, key])
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise

    def prune(self, conn: duckdb.DuckDBPyConnection, before: datetime, *values: object) -> int:
        """Delete the closed requests last changed before `before` (and what goes with them); returns how many."""
        conn.execute("begin")
        try:
            params = [list(v) if isinstance(v, tuple) else v for v in values] + [before]
            count = conn.execute(self.sql["closed"], params).fetchone()[0]
            conn.execute(self.sql["prune"], params)
            for statement in self.pruned_with:
                conn.execute(statement)
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        return count
