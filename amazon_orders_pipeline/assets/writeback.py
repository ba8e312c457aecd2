"""The write-back stage: the ERP's shipments and cancellations of merchant-fulfilled orders, sent to Amazon
(writes/mfn/run.py), with checks that list what was refused, what Amazon rejected, the input lines that were invalid,
and the requests the marts do not show done in time."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from amazon_orders_pipeline.assets.keys import ORDER_ITEMS, ORDERS, WRITEBACK_KEY
from amazon_orders_pipeline.assets.write_checks import warn_check
from amazon_orders_pipeline.resources import SpApiResource, WritebackInboxResource
from amazon_orders_pipeline.warehouse_resource import WarehouseResource
from amazon_orders_pipeline.writes.mfn.run import Writeback

WRITEBACK_JOB = "writeback"
# Metadata the sensor reads: requests still on their way (a feed processing, a shipment not yet in the marts).
OPEN_REQUESTS = "open_requests"
CHECKS = {
    "no_refused_requests": "Requests of this run the guard refused (AFN, unknown, already shipped or cancelled, "
                           "lines or quantities the order lacks); none was sent.",
    "no_amazon_rejections": "Requests Amazon refused in this run: confirmShipment errors, feed messages in error.",
    "no_invalid_inbox_lines": "Lines of this run's inbox files that could not be read as requests.",
    "loop_closed": "Every sent shipment shows as shipped, every accepted cancellation as cancelled, in the marts "
                   "within WRITEBACK_CONFIRM_MINUTES.",
}


def build_writeback(sp_api: SpApiResource, duckdb: WarehouseResource, writeback_inbox: WritebackInboxResource,
                    log) -> Writeback:
    """A write-back pass wired to the resources: DuckDB in turns, each account's client, the carrier mapping."""
    seller_ids = {account_id: seller_id for seller_id, accounts in sp_api.seller_ids().items()
                  for account_id, _ in accounts}
    return Writeback(
        inbox=writeback_inbox.store(), connect=lambda: duckdb.get_connection(log=log),
        client_for=sp_api.client_for, accounts=sp_api.accounts(), carriers=writeback_inbox.carriers(),
        log=log, now=lambda: datetime.now(UTC), confirm_within=timedelta(minutes=writeback_inbox.confirm_minutes),
        merchant_ids=seller_ids, retention=timedelta(days=writeback_inbox.retention_days))


@dg.asset(
    key=WRITEBACK_KEY,
    group_name="writeback",
    deps=[ORDERS, ORDER_ITEMS],
    check_specs=[dg.AssetCheckSpec(name, asset=WRITEBACK_KEY, description=d) for name, d in CHECKS.items()],
    description="The ERP's shipments (confirmShipment) and cancellations (order acknowledgement feed) of "
                "merchant-fulfilled orders, checked against the marts and sent to Amazon exactly once; "
                "state in DuckDB's writeback schema.",
)
def mfn_writeback(context: dg.AssetExecutionContext, sp_api: SpApiResource, duckdb: WarehouseResource,
                  writeback_inbox: WritebackInboxResource) -> dg.MaterializeResult:
    out = build_writeback(sp_api, duckdb, writeback_inbox, context.log).run()

    def check(name: str, rows: list[dict]) -> dg.AssetCheckResult:
        return warn_check(WRITEBACK_KEY, name, rows, "writeback.requests, writeback.inbox_lines")

    return dg.MaterializeResult(
        metadata={"files": out.files, **{f"lines_{k}": v for k, v in out.lines.items()},
                  "refused": len(out.refused), "shipments_sent": out.sent, "feeds": len(out.feeds),
                  "feeds_read_back": out.feeds_read_back, "cancellations_accepted": out.accepted,
                  "failed": len(out.failed), "rejected": len(out.rejected), "confirmed": out.confirmed,
                  "pruned": out.pruned, OPEN_REQUESTS: out.open_requests},
        check_results=[check("no_refused_requests", out.refused),
                       check("no_amazon_rejections", out.failed + out.rejected),
                       check("no_invalid_inbox_lines", out.invalid_lines),
                       check("loop_closed", out.overdue)])


def writeback_job():
    return dg.define_asset_job(WRITEBACK_JOB, selection=dg.AssetSelection.assets(WRITEBACK_KEY),
                               description="One write-back pass: the inbox, the guard, Amazon, the loop.")
