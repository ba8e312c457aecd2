"""The raw layer in DuckDB: `raw.order_pages`, its per-order index `raw.order_records`, and the partition replace.

A v2026 searchOrders page holds whole orders. A v0 partition holds getOrders pages and getOrderItems pages; its
order records join each order with its items (`{"order": ..., "orderItems": [...]}`) so that dbt reads one record
per order version either way, and maps v0 onto the clean columns in staging."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from typing import NamedTuple, TypeVar

import duckdb
import pandas as pd

from amazon_orders_pipeline import lake
from amazon_orders_pipeline.extract import LandedWindow, PageStore, landed_window, mark_loaded
from amazon_orders_pipeline.extract.increments import WINDOW, DayLog, Increment
from amazon_orders_pipeline.stores import ObjectStore

# The file format of a new warehouse: DuckDB 1.5's (the project pins duckdb 1.5.x). DuckDB writes new files in its
# 1.0 format unless told otherwise; 1.5's writes tables about a quarter faster (a dbt build of 1M orders: the base
# table 2.4 -> 1.8 s) and 15% smaller. A file's format is fixed when it is created, so every place that may
# create the warehouse connects with this, and dbt's profile passes the same (profiles.yml, config_options).
# Readers need DuckDB 1.5 or later.
STORAGE_CONFIG = {"storage_compatibility_version": "v1.5.0"}


# How much memory the pipeline's own DuckDB work may hold (the raw loads, the checks, the exports): the same as
# dbt's profile (profiles.yml, settings), so that no step of a run needs more than about 1 GB of DuckDB's memory
# plus its own. DuckDB's default is 80% of the machine's RAM, and a raw load then held 4.5 GB on a 24 GB machine.
# The allocator settings hand freed memory back to the OS sooner (profiles.yml says what they did for dbt).
MEMORY_SETTINGS = {"memory_limit": "1GB", "allocator_flush_threshold": "16MB",
                   "allocator_bulk_deallocation_flush_threshold": "64MB"}


T = TypeVar("T")

# Where the warehouse is: a DuckDB file's path, or a DuckLake (lake.py).
Location = str | lake.LakeConfig


def connect(location: Location, read_only: bool = False, config: Mapping[str, object] | None = None
            ) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse: the file (created in STORAGE_CONFIG's format if it does not exist), or an
    in-memory DuckDB with the lake attached and in use; with MEMORY_SETTINGS unless `config` says otherwise."""
    if isinstance(location, lake.LakeConfig):
        return lake.connect(location, read_only=read_only, settings={**MEMORY_SETTINGS, **(config or {})})
    return duckdb.connect(location, read_only=read_only,
                          config={**STORAGE_CONFIG, **MEMORY_SETTINGS, **(config or {})})


def describe(location: Location) -> str:
    return location.describe() if isinstance(location, lake.LakeConfig) else str(location)


def is_lake(conn: duckdb.DuckDBPyConnection) -> bool:
    return conn.execute("select current_database()").fetchone()[0] == lake.ALIAS


# DuckLake keeps no PRIMARY KEY or UNIQUE constraint (it refuses them), so on the lake a table is made without
# them. The pipeline never relied on them to merge: each writer replaces what it owns in one transaction, and the
# ledgers look a key up before they add it.
_CONSTRAINTS = (re.compile(r",\s*primary key\s*\([^)]*\)", re.I), re.compile(r"\s+primary key\b", re.I),
                re.compile(r"\s+unique\b(?=\s*[,\n])", re.I))


def create_tables(conn: duckdb.DuckDBPyConnection, ddl: str) -> None:
    """Run `ddl` (create ... if not exists), without the constraints DuckLake refuses when on the lake."""
    if is_lake(conn):
        for pattern in _CONSTRAINTS:
            ddl = pattern.sub("", ddl)
    conn.execute(ddl)


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
    landed_key      varchar,
    operation       varchar     not null default 'searchOrders',
    primary key (account_id, partition_date, page_number)
);
-- Files made before v0 support have no operation column; every page in them is a searchOrders page.
alter table raw.order_pages add column if not exists operation varchar default 'searchOrders';
-- The verbatim page is the landed file (landed_key; none for a day loaded from order reports, whose documents are
-- in the landing area too). Files made before this kept each page here as well (why not: above INSERT_PAGES).
alter table raw.order_pages add column if not exists landed_key varchar;
alter table raw.order_pages drop column if exists page;
create table if not exists raw.order_records (
    account_id      varchar     not null,
    partition_date  date        not null,
    page_number     integer     not null,
    record_index    integer     not null,
    api_version     varchar     not null,
    fetched_at      timestamptz not null,
    order_json      varchar     not null
);
-- Finances v2024-06-19 listTransactions pages of a posted day (finances/raw.py): every read is kept, a later read
-- being a later version of the same transactions.
create table if not exists raw.transaction_pages (
    account_id        varchar     not null,
    partition_date    date        not null,
    read_id           varchar     not null,
    page_number       integer     not null,
    request_params    json        not null,
    request_id        varchar,
    fetched_at        timestamptz not null,
    transaction_count integer     not null,
    landed_key        varchar     not null,
    primary key (account_id, partition_date, read_id, page_number)
);
-- The verbatim page is the landed file (landed_key); its transactions are in raw.transaction_records. Files made
-- before this kept the page here too, which made each load rewrite every page ever loaded when DuckDB saved it.
alter table raw.transaction_pages add column if not exists landed_key varchar;
alter table raw.transaction_pages drop column if exists page;
create table if not exists raw.transaction_records (
    account_id        varchar     not null,
    partition_date    date        not null,
    read_id           varchar     not null,
    page_number       integer     not null,
    record_index      integer     not null,
    fetched_at        timestamptz not null,
    transaction_json  varchar     not null
);
-- Settlement reports (finances/settlements.py): each document verbatim, and its lines by column name.
create table if not exists raw.settlement_reports (
    account_id    varchar     not null,
    report_id     varchar     not null,
    document_id   varchar     not null,
    settlement_id varchar,
    created_time  varchar,
    charset       varchar     not null,
    columns       varchar[]   not null,
    fetched_at    timestamptz not null,
    landed_key    varchar     not null,
    primary key (account_id, report_id)
);
-- The verbatim document is the landed file (landed_key); files made before this kept it here too.
alter table raw.settlement_reports add column if not exists landed_key varchar;
alter table raw.settlement_reports drop column if exists document;
-- Returns reports (returns/raw.py): each window of each read, and its lines by column name.
create table if not exists raw.return_reports (
    account_id    varchar     not null,
    report_type   varchar     not null,
    read_id       varchar     not null,
    window_start  timestamptz not null,
    window_end    timestamptz not null,
    report_id     varchar     not null,
    status        varchar     not null,
    charset       varchar,
    columns       varchar[]   not null,
    landed_key    varchar,
    fetched_at    timestamptz not null,
    primary key (account_id, report_type, read_id, window_start)
);
create table if not exists raw.return_rows (
    account_id    varchar     not null,
    report_type   varchar     not null,
    read_id       varchar     not null,
    window_start  timestamptz not null,
    row_number    integer     not null,
    row_json      json        not null
);
create table if not exists raw.settlement_rows (
    account_id    varchar     not null,
    report_id     varchar     not null,
    row_number    integer     not null,
    settlement_id varchar,
    row_json      json        not null
);
"""

# Why raw.order_pages and raw.transaction_pages name the landed file of each page rather than hold the page: a row
# of ~200 KB (an order page) or ~2 MB (a transaction page) means a table that never fills one DuckDB row group
# (122,880 rows), and DuckDB rewrites a row group whole when it saves rows added to it. Each load then rewrote every
# page loaded before: appending a day of 50 order pages took 0.35 s and 0.5 GB beside 500 pages, and 2.0 s and
# 2.5 GB beside 5,000 (100 days of 5,000 orders a day), memory_limit notwithstanding; a sweep's load every few
# minutes paid that each time. The landing area keeps every page verbatim, and raw.order_records every order.

INSERT_PAGES = """
insert into raw.order_pages
    (account_id, partition_date, page_number, api_version, attempt_id, request_params, request_id,
     fetched_at, order_count, is_redacted, landed_key, operation)
select account_id, partition_date, page_number, api_version, attempt_id, request_params, request_id,
       fetched_at, order_count, is_redacted, landed_key, operation
from loaded_pages
"""

RECORD_COLUMNS = ["account_id", "partition_date", "page_number", "record_index", "api_version", "fetched_at",
                  "order_json"]
INSERT_RECORDS = """
insert into raw.order_records
    (account_id, partition_date, page_number, record_index, api_version, fetched_at, order_json)
select account_id, partition_date, page_number, record_index, api_version, fetched_at, order_json
from loaded_records
"""
# A partition's API pages and its report records are loaded apart and replaced apart: neither replaces the other.
DELETE_PARTITION = (
    "delete from raw.order_pages where account_id = ? and partition_date = ? and api_version <> 'report'",
    "delete from raw.order_records where account_id = ? and partition_date = ? and api_version <> 'report'",
)
DELETE_REPORT_DAY = (
    "delete from raw.order_pages where account_id = ? and partition_date = ? and api_version = 'report'",
    "delete from raw.order_records where account_id = ? and partition_date = ? and api_version = 'report'",
)
# Report pages are numbered apart from the API's pages of the same day.
REPORT_PAGE_BASE = 1_000_000
# An increment of a day (a sweep, a getOrder batch: extract/increments.py) is added to the day's API pages,
# numbered after them; loading it again replaces what it added before.
DELETE_ATTEMPT = (
    "delete from raw.order_records where account_id = ? and partition_date = ? and page_number in ("
    "select page_number from raw.order_pages where account_id = ? and partition_date = ? and attempt_id = ? "
    "and api_version <> 'report')",
    "delete from raw.order_pages where account_id = ? and partition_date = ? and attempt_id = ? "
    "and api_version <> 'report'",
)
LAST_API_PAGE = ("select coalesce(max(page_number), 0) from raw.order_pages "
                 f"where account_id = ? and partition_date = ? and page_number < {REPORT_PAGE_BASE}")

MART_ROW_COUNTS = {
    "orders": "select count(*) from main.orders",
    "order_items": "select count(*) from main.order_items",
    "order_addresses": "select count(*) from main.order_addresses",
}


class PageRow(NamedTuple):
    """One raw.order_pages row, in the table's column order."""

    account_id: str
    partition_date: date
    page_number: int
    api_version: str
    attempt_id: str
    request_params: str
    request_id: str | None
    fetched_at: datetime | str
    order_count: int
    is_redacted: bool
    page: str  # the page's text, split into raw.order_records; not itself stored (see INSERT_PAGES)
    operation: str = "searchOrders"  # or, in v0, getOrders / getOrderItems
    landed_key: str | None = None  # the landed file that holds the page verbatim


def mart_row_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {table: conn.execute(sql).fetchone()[0] for table, sql in MART_ROW_COUNTS.items()}


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    create_tables(conn, RAW_DDL)


def split_orders(page: PageRow, order_items: Mapping[str, list] | None = None) -> list[str]:
    """The page's order records, each as compact JSON text: what dbt reads, one row per order.

    Splitting happens here, once per page at load time, because DuckDB's JSON functions work on 2,048 rows at a
    time: over whole pages (~200 KB each) that is ~400 MB of text per vector, past any sane memory limit.
    NaN and Infinity, which Python's parser accepts but JSON does not, are kept as strings so that the record
    lands (and is quarantined for its bad value) instead of failing the load.

    A v0 getOrders record is the order with its items from `order_items` (by AmazonOrderId); an order whose items
    were not landed has none, and is quarantined for it. getOrderItems pages hold no orders of their own.
    """
    where = f"page {page.page_number} of {page.account_id} {page.partition_date}"
    if page.operation == "getOrderItems":
        return []
    field = {"searchOrders": "orders", "getOrder": "order"}.get(page.operation, "payload.Orders")
    try:
        data = json.loads(page.page, parse_constant=str)
        if field == "order":  # a getOrder response: one order
            orders = [data["order"]] if isinstance(data.get("order"), dict) else None
        else:
            orders = data.get("orders") if field == "orders" else data.get("payload", {}).get("Orders")
    except (ValueError, AttributeError) as e:
        raise ValueError(f"{where} is not a JSON object: {e}") from None
    if not isinstance(orders, list):
        raise ValueError(f"{where} has no '{field}' list")
    if page.operation == "getOrders":
        items = order_items or {}
        orders = [{"order": o, "orderItems": items.get(o.get("AmazonOrderId"))} if isinstance(o, dict)
                  else {"order": o} for o in orders]
    return [json.dumps(o, separators=(",", ":"), ensure_ascii=False) for o in orders]


def record_frame(pages: list[PageRow], order_items: Mapping[str, list] | None = None) -> pd.DataFrame:
    """raw.order_records rows for `pages`, as one frame for a bulk insert."""
    return texts_frame([(page, split_orders(page, order_items)) for page in pages])


def texts_frame(pages: list[tuple[PageRow, list[str]]]) -> pd.DataFrame:
    """raw.order_records rows for pages already split into their records' JSON texts."""
    columns: dict[str, list] = {name: [] for name in RECORD_COLUMNS}
    for page, texts in pages:
        n = len(texts)
        for name, value in (("account_id", page.account_id), ("partition_date", page.partition_date),
                            ("page_number", page.page_number), ("api_version", page.api_version),
                            ("fetched_at", page.fetched_at)):
            columns[name].extend([value] * n)
        columns["record_index"].extend(range(1, n + 1))
        columns["order_json"].extend(texts)
    return _with_utc(pd.DataFrame(columns))


def page_frame(pages: list[PageRow]) -> pd.DataFrame:
    return _with_utc(pd.DataFrame(pages, columns=list(PageRow._fields)))


def _with_utc(frame: pd.DataFrame) -> pd.DataFrame:
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True, format="ISO8601")
    return frame


def replace_partition(conn: duckdb.DuckDBPyConnection, account_id: str, partition_date: date,
                      pages: Iterable[PageRow], batch_pages: int = 200,
                      order_items: Mapping[str, list] | None = None) -> int:
    """Swap one (account, day)'s pages and their order records in a single transaction; readers never see a mix.

    Pages are written `batch_pages` at a time, so a day of any size loads in bounded memory; a page that cannot
    be split rolls the whole partition back. `order_items`: a v0 partition's items by order id."""
    ensure_raw_schema(conn)
    loaded = 0
    with _transaction(conn):
        for statement in DELETE_PARTITION:
            conn.execute(statement, [account_id, partition_date])
        pages = iter(pages)
        while batch := [PageRow(*p) for p in itertools.islice(pages, batch_pages)]:
            for page in batch:
                if (page.account_id, page.partition_date) != (account_id, partition_date):
                    raise ValueError(f"page {page.page_number} belongs to {page.account_id} {page.partition_date}, "
                                     f"not to the partition {account_id} {partition_date}")
            _insert_pages(conn, batch, order_items)
            loaded += len(batch)
    return loaded


def add_attempt(conn: duckdb.DuckDBPyConnection, account_id: str, partition_date: date, attempt_id: str,
                numbered_pages: Callable[[int], Iterable[PageRow]], batch_pages: int = 200,
                order_items: Mapping[str, list] | None = None) -> int:
    """Add one increment's pages (and their order records) to a day in one transaction, after the day's other API
    pages: `numbered_pages(first)` gives them numbered from `first`. The attempt's rows from an earlier load are
    replaced, so loading it twice adds it once."""
    ensure_raw_schema(conn)
    loaded = 0
    with _transaction(conn):
        conn.execute(DELETE_ATTEMPT[0], [account_id, partition_date, account_id, partition_date, attempt_id])
        conn.execute(DELETE_ATTEMPT[1], [account_id, partition_date, attempt_id])
        first = conn.execute(LAST_API_PAGE, [account_id, partition_date]).fetchone()[0] + 1
        pages = iter(numbered_pages(first))
        while batch := list(itertools.islice(pages, batch_pages)):
            if batch[-1].page_number >= REPORT_PAGE_BASE:
                raise ValueError(f"{account_id} {partition_date} has more than {REPORT_PAGE_BASE - 1} API pages")
            _insert_pages(conn, batch, order_items)
            loaded += len(batch)
    return loaded


def replace_report_days(conn: duckdb.DuckDBPyConnection, account_id: str,
                        records_by_day: Iterable[tuple[date, list[str]]], *, attempt_id: str, fetched_at: datetime,
                        is_redacted: bool, request_params: dict) -> int:
    """Swap an account's report records of each day in `records_by_day` in one transaction: the day's order records
    (JSON texts, see `order_reports.record_texts`) in raw.order_records, and one raw.order_pages row of `api_version`
    report per day that says where they came from (the reports in its request_params, the record count). The
    verbatim source is the documents in the landing area.
    The pairs are read one at a time, so one day's texts are in memory at once. The API's pages of those days stay.
    Returns the records written."""
    ensure_raw_schema(conn)
    written = 0
    params = json.dumps(request_params, sort_keys=True)
    with _transaction(conn):
        for day, texts in records_by_day:
            for statement in DELETE_REPORT_DAY:
                conn.execute(statement, [account_id, day])
            if texts:
                page = PageRow(account_id, day, REPORT_PAGE_BASE + 1, "report", attempt_id, params, None, fetched_at,
                               len(texts), is_redacted, "", "orderReport")
                _insert_frame(conn, "loaded_pages", page_frame([page]), INSERT_PAGES)
                _insert_frame(conn, "loaded_records", texts_frame([(page, texts)]), INSERT_RECORDS)
                written += len(texts)
    return written


@contextmanager
def _transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back when it raises (readers never see a mix)."""
    conn.execute("begin transaction")
    try:
        yield
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


def _insert_pages(conn: duckdb.DuckDBPyConnection, pages: list[PageRow],
                  order_items: Mapping[str, list] | None = None) -> None:
    """Pages and their order records, inside the caller's transaction."""
    records = record_frame(pages, order_items)
    _insert_frame(conn, "loaded_pages", page_frame(pages), INSERT_PAGES)
    _insert_frame(conn, "loaded_records", records, INSERT_RECORDS)


def _insert_frame(conn: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame, statement: str) -> None:
    conn.register(view, frame)
    try:
        conn.execute(statement)
    finally:
        conn.unregister(view)


def page_row(account_id: str, partition_date: date, attempt_id: str, page, body: bytes,
             number: int | None = None) -> PageRow:
    """One raw.order_pages row from a landed page's metadata and its body (numbered `number`, when given), naming
    the landed file."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"page {page.number} of {account_id} {partition_date} is not UTF-8: {e}") from None
    return PageRow(account_id, partition_date, number or page.number, page.api_version, attempt_id,
                   json.dumps(page.request_params, sort_keys=True), page.request_id, page.fetched_at,
                   page.order_count, page.redacted, text, page.operation, page.key)


def load_landed(conn: duckdb.DuckDBPyConnection, store: PageStore, account_id: str, partition_date: date,
                attempt_id: str, pages: int, replace: bool = True) -> LandedWindow:
    """The load step: one landed attempt's pages (a v0 window's item pages after its orders pages, numbered on)
    and their order records into the raw tables in one transaction, replacing the partition (a whole window) or,
    when not `replace`, added to it (a sweep or getOrder increment)."""
    window = landed_window(store, attempt_id, pages)

    def rows(first: int) -> Iterator[PageRow]:
        for number, (p, body) in enumerate(window.pages, start=first):
            yield page_row(account_id, partition_date, attempt_id, p, body, number)

    if replace:
        replace_partition(conn, account_id, partition_date, rows(1), order_items=window.order_items)
    else:
        add_attempt(conn, account_id, partition_date, attempt_id, rows, order_items=window.order_items)
    return window


# Landing-area states that hold a complete set of pages for the load step.
LOADABLE = ("fetched", "loaded")


class NothingLanded(RuntimeError):
    """A day with nothing (complete) in the landing area to load."""


def run_once(work: Callable[[], T], what: str) -> T:
    return work()


def load_increments(store: ObjectStore, account_id: str, day: date,
                    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
                    retry: Callable[[Callable[[], LandedWindow], str], LandedWindow] = run_once
                    ) -> Iterator[tuple[LandedWindow, str]]:
    """The load step of one (account, day): its landed increments not yet in DuckDB (extract/increments.py), in
    order, each in one transaction on a connection from `connect`: a whole window replaces the day, a sweep or
    getOrder increment is added to it. Yields (LandedWindow, attempt id) per increment. A day landed before
    increments existed (no increments folder) loads its current attempt, as it always did. `retry(work, what)`
    runs each transaction (on DuckLake, again after a write conflict: WarehouseResource.retrying)."""
    pages = PageStore(store, account_id, day)
    log = DayLog(store, account_id, day)
    day_increments = log.increments()  # one read of the day's increment files
    plan = log.to_load(day_increments)
    if not day_increments:
        state = pages.current()
        if state is None or state["status"] not in LOADABLE:
            status = "nothing landed" if state is None else f"an unfinished extraction ({state['status']})"
            raise NothingLanded(f"{account_id} {day}: the landing area has {status}")
        plan = [(Increment(state["attempt_id"], WINDOW, state["window_start"], state["window_end"],
                           state["pages"], "fetched"), True)]
    for increment, replace in plan:
        def load(increment: Increment = increment, replace: bool = replace) -> LandedWindow:
            with connect() as conn:
                return load_landed(conn, pages, account_id, day, increment.attempt_id, increment.pages,
                                   replace=replace)

        window = retry(load, f"the load of {account_id} {day} (attempt {increment.attempt_id})")
        if increment.landed_at:
            log.mark_loaded(increment)
        mark_loaded(store, account_id, day, increment.attempt_id)
        yield window, increment.attempt_id
    if day_increments:
        log.fold()
