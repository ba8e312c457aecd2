"""Multi-Channel Fulfillment: the web shop's orders sent to Amazon's fulfilment network and tracked (writes/mcf/run.py),
with checks for what was refused, orders stuck in Received or Planning, and Invalid or Unfulfillable ones."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from amazon_orders_pipeline.assets.keys import MCF_KEY
from amazon_orders_pipeline.assets.write_checks import warn_check
from amazon_orders_pipeline.resources import ExportResource, McfInboxResource, SpApiResource
from amazon_orders_pipeline.sp_api.fulfillment_outbound import FulfillmentOutbound20200701
from amazon_orders_pipeline.warehouse_resource import WarehouseResource
from amazon_orders_pipeline.writes.mcf.run import McfRun

MCF_JOB = "mcf"
OPEN_ORDERS = "open_orders"
CHECKS = {
    "no_refused_storefront_orders": "Orders the preview found unfulfillable, or Amazon refused; none was shipped.",
    "no_invalid_storefront_lines": "Lines of this run's storefront files that could not be read as orders.",
    "fba_orders_not_stuck": "No order stays Received or Planning at Amazon beyond the MCF config's "
                            "stuck_after_hours (a preview can say fulfillable for stock that is not).",
    "no_invalid_or_unfulfillable": "Orders Amazon found Invalid (address, stock) or Unfulfillable.",
}


def build_mcf_run(sp_api: SpApiResource, duckdb: WarehouseResource, mcf_inbox: McfInboxResource,
                  exports: ExportResource, log) -> McfRun:
    config = mcf_inbox.config()
    account, marketplace = config.fulfilling(list(sp_api.accounts().values()))
    return McfRun(inbox=mcf_inbox.store(), exports=exports.store(),
                  connect=lambda: duckdb.get_connection(log=log),
                  outbound=lambda a: FulfillmentOutbound20200701(sp_api.client_for(a)), account=account,
                  marketplace_id=marketplace, config=config, log=log, now=lambda: datetime.now(UTC),
                  retention=timedelta(days=mcf_inbox.retention_days))


@dg.asset(
    key=MCF_KEY,
    group_name="mcf",
    check_specs=[dg.AssetCheckSpec(name, asset=MCF_KEY, description=d) for name, d in CHECKS.items()],
    description="The web shop's orders as Fulfillment Outbound orders (createFulfillmentOrder, exactly once per "
                "storefront order), their cancellations, and their tracking: mcf.fulfillment_orders and "
                "mcf.fulfillment_packages in DuckDB, and a tracking file per run for the shop.",
)
def fba_fulfillment_orders(context: dg.AssetExecutionContext, sp_api: SpApiResource, duckdb: WarehouseResource,
                           mcf_inbox: McfInboxResource, exports: ExportResource) -> dg.MaterializeResult:
    out = build_mcf_run(sp_api, duckdb, mcf_inbox, exports, context.log).run()

    def check(name: str, rows: list[dict]) -> dg.AssetCheckResult:
        return warn_check(MCF_KEY, name, rows, "mcf.fulfillment_orders, mcf.inbox_lines")

    return dg.MaterializeResult(
        metadata={"files": out.files, **{f"lines_{k}": v for k, v in out.lines.items()},
                  "refused": len(out.refused), "submitted": out.submitted, "read_back": out.read_back,
                  "failed": len(out.failed), "cancelled": out.cancelled, "too_late": len(out.too_late),
                  "tracked": out.tracked, "changed": len(out.changed),
                  "tracking_file": out.tracking_file or "none", "pruned": out.pruned, OPEN_ORDERS: out.open_orders},
        check_results=[check("no_refused_storefront_orders", out.refused + out.failed + out.too_late),
                       check("no_invalid_storefront_lines", out.invalid_lines),
                       check("fba_orders_not_stuck", out.stuck),
                       check("no_invalid_or_unfulfillable", out.invalid_at_amazon)])


def mcf_job():
    return dg.define_asset_job(MCF_JOB, selection=dg.AssetSelection.assets(MCF_KEY),
                               description="One MCF pass: the storefront inbox, preview, create, cancel, tracking.")
