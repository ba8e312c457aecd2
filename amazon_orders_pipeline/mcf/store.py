"""The `mcf` schema: the inbox ledger, one row per storefront order (what was asked, what was sent, where it is at
Amazon), and the packages Amazon shipped it in, with carrier and tracking number: the fulfillment orders' mart.

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

from amazon_orders_pipeline.request_inbox import Condition, ledger_ddl, select_rows, update_rows
from amazon_orders_pipeline.warehouse import create_tables

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


def rows(conn: duckdb.DuckDBPyConnection, *conditions: Condition) -> list[dict]:
    """Fulfillment orders matching every (column, operator, value) condition (request_inbox.OPERATORS), oldest
    first."""
    return select_rows(conn, "mcf.fulfillment_orders", *conditions, order="received_at, shop_order_id")


def update(conn: duckdb.DuckDBPyConnection, changes: Iterable[tuple[str, dict]], now: datetime) -> None:
    update_rows(conn, "mcf.fulfillment_orders", "shop_order_id", changes, now)
