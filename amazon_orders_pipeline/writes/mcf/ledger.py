"""The MCF ledger in DuckDB (schema `mcf`): the inbox ledger, one row per storefront order (what was asked, what was
sent, where it is at Amazon), and the packages Amazon shipped it in, with carrier and tracking number: the
fulfillment orders' mart.

A storefront order's states:

    received -> refused                      (the preview says it cannot be fulfilled; never sent)
             -> submitting -> submitted      (createFulfillmentOrder; `submitting` is written before the call, and
                           \\-> failed         a run that finds it reads the order at Amazon before sending again)
    submitted -> cancel_requested -> cancelled | too_late
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb

from amazon_orders_pipeline.sp_api.fulfillment_outbound import TERMINAL
from amazon_orders_pipeline.warehouse import create_tables
from amazon_orders_pipeline.writes.ledger import RequestTable, ledger_ddl

SCHEMA = "mcf"
DDL = ledger_ddl(SCHEMA) + """
create table if not exists mcf.fulfillment_orders (
    shop_order_id                varchar primary key,
    seller_fulfillment_order_id  varchar     not null unique,
    account_id                   varchar     not null,
    marketplace_id               varchar     not null,
    request_body                 json        not null,  -- createFulfillmentOrder's body (the shop's customer)
    status                       varchar     not null,
    error                        varchar,
    amazon_status                varchar,               -- the enum's spelling, whatever the case Amazon sent
    status_updated_at            timestamptz,
    attempts                     integer     not null default 0,
    source_file                  varchar     not null,
    received_at                  timestamptz not null,
    submitted_at                 timestamptz,
    polled_at                    timestamptz,
    updated_at                   timestamptz not null
);
create table if not exists mcf.fulfillment_packages (
    seller_fulfillment_order_id  varchar     not null,
    package_number               integer     not null,
    carrier_code                 varchar,
    tracking_number              varchar,
    shipment_status              varchar,
    shipping_date                timestamptz,
    estimated_arrival            timestamptz,
    primary key (seller_fulfillment_order_id, package_number)
);
"""


def ensure(conn: duckdb.DuckDBPyConnection) -> None:
    create_tables(conn, DDL)


# Nothing more happens to these at Amazon or in the shop.
CLOSED = ("refused", "failed", "cancelled", "too_late")
ORDERS = RequestTable(
    "mcf.fulfillment_orders", "shop_order_id", "received_at, shop_order_id",
    selections={
        "status": "status = ?",
        "statuses": "status in (select unnest(?::varchar[]))",
        "amazon_statuses": "amazon_status in (select unnest(?::varchar[]))",
        # Sent, and not yet in one of the given (terminal) states at Amazon.
        "open_at_amazon": "status = 'submitted' and (amazon_status is null or amazon_status not in "
                          "(select unnest(?::varchar[])))",
        "stuck_since": "status = 'submitted' and amazon_status in (select unnest(?::varchar[])) "
                       "and coalesce(status_updated_at, submitted_at) < ?",
    },
    columns=("status", "error", "amazon_status", "status_updated_at", "attempts", "submitted_at", "polled_at"),
    # Closed here (CLOSED), or done at Amazon (its terminal states), and unchanged since the cutoff.
    closed="(status in (select unnest(?::varchar[])) or (status = 'submitted' and amazon_status in "
           "(select unnest(?::varchar[])))) and updated_at < ?",
    pruned_with=("delete from mcf.fulfillment_packages where seller_fulfillment_order_id not in "
                 "(select seller_fulfillment_order_id from mcf.fulfillment_orders)",),
)


def rows(conn: duckdb.DuckDBPyConnection, selection: str | None = None, *values: object) -> list[dict]:
    """The fulfillment orders of a named selection of ORDERS (all by default), oldest first."""
    return ORDERS.rows(conn, selection, *values)


def update(conn: duckdb.DuckDBPyConnection, changes: Iterable[tuple[str, dict]], now: datetime) -> None:
    ORDERS.update(conn, changes, now)


def prune(conn: duckdb.DuckDBPyConnection, before: datetime) -> int:
    """Delete the orders closed before `before`, with their packages; the inbox ledger keeps their files and lines."""
    return ORDERS.prune(conn, before, CLOSED, TERMINAL)
