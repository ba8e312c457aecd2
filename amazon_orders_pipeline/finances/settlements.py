"""Settlement reports (`GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`): Amazon makes one per payout, every 14 days per
currency, and keeps it listable for 90 days; it cannot be requested. Each one not yet landed is downloaded (through
the Reports client: charset, GZIP, a fresh URL when one lapsed) and landed verbatim, then loaded into
`raw.settlement_reports` and `raw.settlement_rows`: one row per line of the file, by column name (an extra column is
kept), the summary row first. No Dagster."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd

from amazon_orders_pipeline.sp_api.reports import ReportsClient
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json
from amazon_orders_pipeline.warehouse import ensure_raw_schema

SETTLEMENT_REPORT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
PREFIX = "settlements"
RETAINED = timedelta(days=90)  # how far back getReports lists them: older settlements are out of reach
ROW_BATCH = 20_000
ROW_COLUMNS = ["account_id", "report_id", "row_number", "settlement_id", "row_json"]
DELETE_ROWS = "delete from raw.settlement_rows where account_id = ? and report_id = ?"
INSERT_REPORT = ("insert into raw.settlement_reports (account_id, report_id, document_id, settlement_id, "
                 "created_time, charset, columns, fetched_at, landed_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_ROWS = ("insert into raw.settlement_rows (" + ", ".join(ROW_COLUMNS) + ") select "
               + ", ".join(ROW_COLUMNS) + " from settlement_frame")

class SettlementError(RuntimeError):
    """A settlement document that cannot be read; the message names the account and the report."""


@dataclass(frozen=True)
class Fetched:
    listed: int  # settlement reports getReports listed
    landed: int  # of which this call downloaded (the others had landed before)


def _key(account_id: str, report_id: str, suffix: str) -> str:
    return f"{PREFIX}/{account_id}/{report_id}.{suffix}"


def fetch_settlements(reports: ReportsClient, store: ObjectStore, account_id: str, now: datetime) -> Fetched:
    """Land every settlement report Amazon lists for the account that has not landed yet."""
    listed = reports.list([SETTLEMENT_REPORT], now - RETAINED)
    landed = 0
    for report in listed:
        report_id, document_id = str(report.get("reportId")), report.get("reportDocumentId")
        if not document_id or get_json(store, _key(account_id, report_id, "json")) is not None:
            continue
        document = reports.document(document_id)
        store.put(_key(account_id, report_id, "tsv"), document.content)
        put_json(store, _key(account_id, report_id, "json"), {
            "report": report, "charset": document.charset, "fetched_at": datetime.now(UTC).isoformat()})
        landed += 1
    return Fetched(len(listed), landed)


def parse(document: bytes, charset: str, where: str) -> tuple[list[str], Iterator[dict[str, str]]]:
    """(columns, rows by column name, one at a time) of a settlement file, decoded as it is read. A row longer than
    the header is not a settlement file's: it fails with the place named."""
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(document), encoding=charset, newline=""), delimiter="\t")
    try:
        columns = next(reader)
    except StopIteration:
        raise SettlementError(f"{where}: the document is empty") from None
    if "settlement-id" not in columns or "amount" not in columns:
        raise SettlementError(f"{where}: no settlement-id and amount columns in the header {columns[:6]}")

    def rows() -> Iterator[dict[str, str]]:
        for number, values in enumerate(reader, start=2):
            if len(values) > len(columns):
                raise SettlementError(f"{where}: line {number} has {len(values)} fields, the header "
                                      f"{len(columns)}")
            yield dict(zip(columns, values + [""] * (len(columns) - len(values)), strict=True))
    return columns, rows()


def load_settlements(conn: duckdb.DuckDBPyConnection, store: ObjectStore, account_id: str) -> int:
    """Every landed settlement report of the account not yet in the raw tables, each in one transaction. Returns
    the reports loaded.

    raw.settlement_reports names the landed file (the verbatim copy) rather than holding the document, and the
    lines go in ROW_BATCH at a time: a settlement of 5,000 orders a day has about 400,000 lines, and holding them
    all as dictionaries took this process to 4.5 GB."""
    ensure_raw_schema(conn)
    done = {r for (r,) in conn.execute("select report_id from raw.settlement_reports where account_id = ?",
                                       [account_id]).fetchall()}
    loaded = 0
    for key in store.keys(f"{PREFIX}/{account_id}/"):
        if not key.endswith(".json") or (report_id := key.rsplit("/", 1)[1][:-5]) in done:
            continue
        meta = get_json(store, key)
        document_key = _key(account_id, report_id, "tsv")
        columns, rows = parse(store.get(document_key), meta["charset"], f"{account_id} settlement report {report_id}")
        summary = next(rows, None)
        settlement_id = summary.get("settlement-id") if summary else None
        conn.execute("begin transaction")
        try:
            conn.execute(DELETE_ROWS, [account_id, report_id])
            conn.execute(INSERT_REPORT, [
                account_id, report_id, meta["report"]["reportDocumentId"], settlement_id,
                meta["report"].get("createdTime"), meta["charset"], columns,
                datetime.fromisoformat(meta["fetched_at"]), document_key])
            numbered = enumerate(itertools.chain([summary] if summary else [], rows), start=1)
            while batch := list(itertools.islice(numbered, ROW_BATCH)):
                settlement_frame = pd.DataFrame(  # noqa: F841 - read by name below
                    [(account_id, report_id, n, row.get("settlement-id") or settlement_id, json.dumps(row))
                     for n, row in batch], columns=ROW_COLUMNS)
                conn.execute(INSERT_ROWS)
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        loaded += 1
    return loaded
