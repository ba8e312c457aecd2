"""The MFN write-back's ledger in DuckDB (schema `writeback`): every inbox file and line with its outcome, and every
request with its state, recorded before and after anything is sent.

A request's states:

    received -> refused                                     (the guard; never sent)
    shipment:      received -> sending -> sent -> confirmed (the marts show it shipped)
                                        \\-> failed          (Amazon refused it, with its message)
    cancellation:  received -> queued -> submitting -> in_feed -> accepted -> confirmed
                                                              \\-> rejected | failed

`sending` and `submitting` are written before the call: a run killed there finds them and reads back (a package is
sent again under the same packageReferenceId, which edits it; a feed is looked for with getFeeds before another is
created)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import duckdb

from amazon_orders_pipeline.warehouse import create_tables
from amazon_orders_pipeline.writes.ledger import RequestTable, ledger_ddl, record
from amazon_orders_pipeline.writes.lines import LineOutcome
from amazon_orders_pipeline.writes.mfn.files import Request

SCHEMA = "writeback"

DDL = ledger_ddl(SCHEMA) + """
create table if not exists writeback.requests (
    request_id            varchar primary key,
    kind                  varchar     not null,  -- shipment | cancellation
    account_id            varchar,
    order_id              varchar     not null,
    package_reference_id  varchar,
    details               json        not null,  -- what the ERP asked for
    request_body          json,                  -- what is sent to Amazon (shipments), set by the guard
    marketplace_id        varchar,
    status                varchar     not null,
    reason                varchar,               -- why refused, rejected or failed
    feed_id               varchar,
    feed_document_id      varchar,
    submit_started_at     timestamptz,
    attempts              integer     not null default 0,
    source_file           varchar     not null,
    received_at           timestamptz not null,
    sent_at               timestamptz,
    closed_at             timestamptz,
    updated_at            timestamptz not null
);
"""

# Not yet sent, or on its way.
OPEN = ("received", "sending", "queued", "submitting", "in_feed")
# Sent, and waiting for the marts to show it.
AWAITING_MARTS = ("sent", "accepted")


def ensure(conn: duckdb.DuckDBPyConnection) -> None:
    create_tables(conn, DDL)


def take_file(conn: duckdb.DuckDBPyConnection, key: str, sha256: str, requests: list[Request],
              lines: list[LineOutcome], now: datetime) -> dict[str, int]:
    """Record a file, its lines and its requests in one transaction. A request already known is not taken again
    (its lines say `duplicate`) unless it was refused before: sending it again is how the ERP retries a refusal.
    A request with the same id but other details is a line error: the package was already sent as it was."""
    counts = {"accepted": 0, "duplicate": 0, "invalid": 0}
    conn.execute("begin")
    try:
        known = {row[0]: (row[1], json.loads(row[2])) for row in conn.execute(
            "select request_id, status, details from writeback.requests where request_id in "
            "(select unnest(?::varchar[]))", [[r.request_id for r in requests]]).fetchall()}
        settled: dict[int, tuple[str, str | None]] = {}  # line number -> (outcome, reason)
        for request in requests:
            request_id, details = request.request_id, request.details()
            previous = known.get(request_id)
            if previous is None or previous[0] == "refused":
                conn.execute("delete from writeback.requests where request_id = ?", [request_id])
                conn.execute(
                    "insert into writeback.requests (request_id, kind, account_id, order_id, package_reference_id, "
                    "details, status, source_file, received_at, updated_at) values (?, ?, ?, ?, ?, ?, 'received', "
                    "?, ?, ?)",
                    [request_id, request.kind, request.account_id, request.order_id, request.package_reference_id,
                     json.dumps(details), key, now, now])
                known[request_id] = ("received", details)
                outcome = ("accepted", None)
            elif previous[1] == details:
                outcome = ("duplicate", f"already received; its status is {previous[0]}")
            else:
                outcome = ("invalid", "this package (order and tracking number) was received before with other "
                                      f"details and is {previous[0]}; correct it in Seller Central")
            for n in request.line_numbers:
                settled[n] = outcome
        rows = []
        for line in lines:
            outcome, reason = settled.get(line.line_number, (line.outcome, line.reason))
            counts[outcome] += 1
            rows.append((line.line_number, outcome, reason, line.request_id))
        record(conn, SCHEMA, key, sha256, rows, now)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return counts


REQUESTS = RequestTable(
    "writeback.requests", "request_id", "received_at, request_id",
    selections={
        "status": "status = ?",
        "account_status": "account_id = ? and status = ?",
        "feed_status": "feed_id = ? and status = ?",
        "status_orders": "status = ? and order_id in (select unnest(?::varchar[]))",
        "awaiting_since": "status in (select unnest(?::varchar[])) and sent_at < ?",
    },
    columns=("status", "reason", "account_id", "marketplace_id", "request_body", "attempts", "sent_at", "closed_at",
             "feed_id", "feed_document_id", "submit_started_at"),
    # Refused, failed, rejected or confirmed: nothing more happens to it.
    closed="closed_at < ?",
)


def rows(conn: duckdb.DuckDBPyConnection, selection: str | None = None, *values: object) -> list[dict]:
    """The requests of a named selection of REQUESTS (all by default), oldest first."""
    return REQUESTS.rows(conn, selection, *values)


def update(conn: duckdb.DuckDBPyConnection, changes: Iterable[tuple[str, dict]], now: datetime) -> None:
    """Set columns of requests: (request_id, {column: value}) each, in one transaction."""
    REQUESTS.update(conn, changes, now)


def prune(conn: duckdb.DuckDBPyConnection, before: datetime) -> int:
    """Delete the requests closed before `before`; the inbox ledger keeps their files and lines."""
    return REQUESTS.prune(conn, before)


def counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(conn.execute("select status, count(*) from writeback.requests group by status").fetchall())
