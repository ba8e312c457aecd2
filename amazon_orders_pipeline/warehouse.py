"""The raw layer in DuckDB: the `raw.order_pages` table and the one-transaction replace of a partition."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

import duckdb

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.order_pages (
    account_id      varchar     not null,
    partition_date  date        not null,
    page_number     integer     not null,
    api_version     varchar     not null,
    attempt_id      varchar     not null,
    request_params  json        not null,
    request_id      varchar,
    fetched_at      timestamptz not null,
    order_count     integer     not null,
    is_redacted     boolean     not null,
    page            json        not null,
    primary key (account_id, partition_date, page_number)
);
"""

INSERT_PAGE = """
insert into raw.order_pages
    (account_id, partition_date, page_number, api_version, attempt_id, request_params, request_id,
     fetched_at, order_count, is_redacted, page)
values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


MART_ROW_COUNTS = {
    "orders": "select count(*) from main.orders",
    "order_items": "select count(*) from main.order_items",
    "order_addresses": "select count(*) from main.order_addresses",
}


def mart_row_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {table: conn.execute(sql).fetchone()[0] for table, sql in MART_ROW_COUNTS.items()}


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(RAW_DDL)


def replace_partition(conn: duckdb.DuckDBPyConnection, account_id: str, partition_date: date,
                      rows: Iterable[tuple]) -> int:
    """Swap one (account, day)'s pages for `rows` in a single transaction; readers never see a mix."""
    rows = list(rows)
    ensure_raw_schema(conn)
    conn.execute("begin transaction")
    try:
        conn.execute("delete from raw.order_pages where account_id = ? and partition_date = ?",
                     [account_id, partition_date])
        if rows:
            conn.executemany(INSERT_PAGE, rows)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return len(rows)


def page_row(account_id: str, partition_date: date, attempt_id: str, page, body: bytes) -> tuple:
    """One raw.order_pages row from a landed page's metadata and its body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"page {page.number} of {account_id} {partition_date} is not UTF-8: {e}") from None
    return (account_id, partition_date, page.number, page.api_version, attempt_id,
            json.dumps(page.request_params, sort_keys=True), page.request_id, page.fetched_at,
            page.order_count, page.redacted, text)
