"""A posted day's landed transaction reads into `raw.transaction_pages` (one row per page: what was asked, when,
how many transactions, and the landed file that holds it verbatim) and `raw.transaction_records` (one row per
transaction, as compact JSON text, for dbt): each read in one short transaction that replaces that read's rows, so
loading it twice changes nothing. Reads already loaded are skipped.

The page's body is not copied into raw.transaction_pages: a page is about 2 MB, a table of such rows never fills a
DuckDB row group, and each load then rewrote every page loaded before when the file was saved (120 days of 5,000
orders a day: 3 GB of pages, 7.6 s a load on average, growing with the table). The landed file is the verbatim
copy.

A transaction is filed under its own posted day (its postedDate's UTC date; the read's day when that cannot be
read): a day's window holds only that day's transactions, but a read of an order (finances/landing.py: read_orders)
holds its transactions of every day."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from amazon_orders_pipeline.finances.landing import TransactionsError, TransactionStore
from amazon_orders_pipeline.stores import ObjectStore
from amazon_orders_pipeline.warehouse import ensure_raw_schema

DELETE_PAGES = "delete from raw.transaction_pages where account_id = ? and partition_date = ? and read_id = ?"
DELETE_RECORDS = "delete from raw.transaction_records where account_id = ? and partition_date = ? and read_id = ?"
PAGE_COLUMNS = ["account_id", "partition_date", "read_id", "page_number", "request_params", "request_id",
                "fetched_at", "transaction_count", "landed_key"]
RECORD_COLUMNS = ["account_id", "partition_date", "read_id", "page_number", "record_index", "fetched_at",
                  "transaction_json"]
# The inserts name their columns from the fixed lists above, read from the data frames of the same names.
INSERT_PAGES = ("insert into raw.transaction_pages (" + ", ".join(PAGE_COLUMNS) + ") select "
                + ", ".join(PAGE_COLUMNS) + " from loaded_pages")
INSERT_RECORDS = ("insert into raw.transaction_records (" + ", ".join(RECORD_COLUMNS) + ") select "
                  + ", ".join(RECORD_COLUMNS) + " from loaded_records")


def read_rows(store: TransactionStore, read_id: str) -> tuple[list[tuple], list[tuple]]:
    """(page rows, record rows) of one finished read."""
    pages, records = [], []
    for number, (key, landed) in enumerate(store.pages(read_id), start=1):
        fetched = datetime.fromisoformat(landed["fetched_at"].replace("Z", "+00:00"))
        try:
            data = json.loads(landed["body"])
            found = data["payload"].get("transactions") or []
        except (ValueError, KeyError, AttributeError, TypeError):
            raise TransactionsError(f"{store.account_id} posted day {store.day}, read {read_id}: page {number} is "
                                    "not a listTransactions response") from None
        pages.append((store.account_id, store.day, read_id, number, json.dumps(landed["params"]),
                      landed["request_id"], fetched, len(found), key))
        records += [(store.account_id, posted_day(t, store.day), read_id, number, index, fetched,
                     json.dumps(t, separators=(",", ":"))) for index, t in enumerate(found)]
    return pages, records


def posted_day(transaction: object, default: date) -> date:
    """The UTC day of a transaction's postedDate, or `default` (dbt then quarantines a postedDate it cannot read)."""
    text = transaction.get("postedDate") if isinstance(transaction, dict) else None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).date()
    except (AttributeError, TypeError, ValueError):
        return default


def load_read(conn: duckdb.DuckDBPyConnection, store: TransactionStore, read_id: str) -> int:
    """One read into the raw tables, in one transaction. Returns its transactions."""
    pages, records = read_rows(store, read_id)
    ensure_raw_schema(conn)
    conn.execute("begin transaction")
    try:
        conn.execute(DELETE_PAGES, [store.account_id, store.day, read_id])
        for day in sorted({store.day} | {r[1] for r in records}):
            conn.execute(DELETE_RECORDS, [store.account_id, day, read_id])
        loaded_pages = pd.DataFrame(pages, columns=PAGE_COLUMNS)  # noqa: F841 - read by name below
        loaded_records = pd.DataFrame(records, columns=RECORD_COLUMNS)  # noqa: F841
        conn.execute(INSERT_PAGES)
        conn.execute(INSERT_RECORDS)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return len(records)


def load_day(store: ObjectStore, account_id: str, day: date,
             transaction: Callable[[Callable[[duckdb.DuckDBPyConnection], int], str], int]) -> tuple[int, int]:
    """Every finished, not yet loaded read of a posted day, each through `transaction(work, what)` (which opens
    the warehouse, takes its turn and retries). Returns (reads, transactions) loaded."""
    landing = TransactionStore(store, account_id, day)
    reads = transactions = 0
    for read_id in landing.read_ids():
        if landing.done(read_id) is None or landing.loaded(read_id):
            continue
        transactions += transaction(lambda conn, r=read_id: load_read(conn, landing, r),
                                    f"the transactions of {account_id} posted on {day} (read {read_id})")
        landing.mark_loaded(read_id)
        reads += 1
    return reads, transactions
