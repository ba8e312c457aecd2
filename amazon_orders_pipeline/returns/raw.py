"""A finished returns read into `raw.return_reports` (one row per window: its report, outcome, charset, columns and
the landed file that holds the document verbatim) and `raw.return_rows` (one row per line of the document, its
values by column name as JSON text; an extra column is kept). Each window in one short transaction that replaces
what that window of that read loaded before, so loading a read twice changes nothing.

A line whose field count differs from the header's is kept as `{"_malformed": reason, "_values": [...]}` for dbt to
quarantine with the reason: nothing of a document is dropped here."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import duckdb
import pandas as pd

from amazon_orders_pipeline.returns.landing import ReturnsRead
from amazon_orders_pipeline.stores import ObjectStore
from amazon_orders_pipeline.warehouse import ensure_raw_schema

ROW_COLUMNS = ["account_id", "report_type", "read_id", "window_start", "row_number", "row_json"]
DELETE_ROWS = ("delete from raw.return_rows where account_id = ? and report_type = ? and read_id = ? "
               "and window_start = ?")
DELETE_REPORT = ("delete from raw.return_reports where account_id = ? and report_type = ? and read_id = ? "
                 "and window_start = ?")
INSERT_REPORT = ("insert into raw.return_reports (account_id, report_type, read_id, window_start, window_end, "
                 "report_id, status, charset, columns, landed_key, fetched_at) "
                 "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_ROWS = ("insert into raw.return_rows (" + ", ".join(ROW_COLUMNS) + ") select " + ", ".join(ROW_COLUMNS)
               + " from return_frame")


def document_rows(text: str) -> tuple[list[str], list[str]]:
    """(columns, each line as JSON text by column name) of a returns document."""
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    columns = next(reader, [])
    rows = []
    for number, values in enumerate(reader, start=2):
        if len(values) == len(columns):
            rows.append(json.dumps(dict(zip(columns, values, strict=True)), ensure_ascii=False))
        elif values:
            rows.append(json.dumps({"_malformed": f"line {number} has {len(values)} fields, the header "
                                                  f"{len(columns)}", "_values": values}, ensure_ascii=False))
    return columns, rows


def load_read(conn: duckdb.DuckDBPyConnection, landing: ObjectStore, read: ReturnsRead) -> int:
    """Every window of a finished read into the raw tables, a transaction each. Returns the lines loaded."""
    ensure_raw_schema(conn)
    loaded = 0
    for w in read.windows:
        columns, rows = [], []
        if w.document_key is not None:
            body = landing.get(w.document_key)
            if body is None:
                raise FileNotFoundError(f"{read.account_id} {read.report_type}: landed document {w.document_key} "
                                        "is missing")
            columns, rows = document_rows(body.decode(w.charset or "utf-8"))
        key = [read.account_id, read.report_type, read.read_id, w.window[0]]
        return_frame = pd.DataFrame(  # noqa: F841 - read by name below
            [(*key, n, text) for n, text in enumerate(rows, start=1)], columns=ROW_COLUMNS)
        conn.execute("begin transaction")
        try:
            conn.execute(DELETE_ROWS, key)
            conn.execute(DELETE_REPORT, key)
            conn.execute(INSERT_REPORT, [*key, w.window[1], w.report_id, w.status, w.charset, columns,
                                         w.document_key, datetime.fromisoformat(w.fetched_at)])
            conn.execute(INSERT_ROWS)
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        loaded += len(rows)
    return loaded
