"""The pipeline's jobs from the command line, one subcommand each, reading the same settings as the Dagster code
location (the README's configuration table) and printing one JSON object:

    amazon-orders history --start 2026-01-01 --end 2026-11-25 [--account ID ...] [--no-exports]
    amazon-orders writeback
    amazon-orders mcf
    amazon-orders notifications-setup --queue-arn arn:aws:sqs:us-east-1:123456789012:orders

(`python -m amazon_orders_pipeline ...` is the same.) Each exits 1 when its run failed."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date

HISTORY = """Backfill a range of days as a backfill launched from the UI runs it: the extract stage over the whole
range as one run (each account's days of at least REPORTS_FROM_DAYS through order reports of 30-day windows when
its history_source says so, resumable), then the transform, checks and exports over the range as one run. A year is
about 13 reports per account instead of weeks of searchOrders quota."""
WRITEBACK = """One write-back pass, as the `writeback` job runs it (for a cron job, or a run by hand): the ERP's
shipment and cancellation files, checked against the marts, sent to Amazon once, then followed up."""
MCF = """One MCF pass, as the `mcf` job runs it: the storefront inbox, preview, create, cancel and tracking."""
NOTIFICATIONS_SETUP = """Set up notifications for every account: the SQS queue's destination (grantless
createDestination) and each account's subscriptions to it: ORDER_CHANGE (with its event filter) and TRANSACTION_UPDATE
(the money after the sale; needs the Finance and Accounting role), or the `--type` given.
Safe to run again: what exists is found, not created twice. The queue must be a standard queue whose policy lets
Amazon's account 437568002678 call sqs:SendMessage and sqs:GetQueueAttributes; Amazon does not check that at
subscribe time (README, "Notifications")."""


def history(args: argparse.Namespace) -> int:
    from amazon_orders_pipeline.history import backfill_history

    run = backfill_history(args.start, args.end, environ=os.environ, account_ids=args.account,
                           exports=not args.no_exports)
    print(json.dumps({"extract": run.metadata(), "success": run.success,
                      "transform": None if run.transform is None else run.transform.success}, default=str))
    return 0 if run.success else 1


def writes(key_name: str):
    def run(args: argparse.Namespace) -> int:
        from amazon_orders_pipeline.assets.keys import MCF_KEY, WRITEBACK_KEY
        from amazon_orders_pipeline.local_runs import materialize_writes

        key = {"writeback": WRITEBACK_KEY, "mcf": MCF_KEY}[key_name]
        result = materialize_writes(key, environ=os.environ, raise_on_error=False)
        figures = {}
        for event in result.get_asset_materialization_events():
            if event.asset_key == key:
                figures = {k: v.value for k, v in event.materialization.metadata.items()}
        print(json.dumps({"success": result.success, **figures}, default=str))
        return 0 if result.success else 1

    return run


def set_up(queue_arn: str, name: str, environ=None, account_ids: list[str] | None = None,
           types: list[str] | tuple[str, ...] | None = None) -> dict:
    """The queue's destination and every account's subscriptions of `types` (all by default), or only
    `account_ids`'. Per account: the ORDER_CHANGE subscription's id and whether it was created, and `subscriptions`
    by type."""
    from amazon_orders_pipeline.resources import build_resources
    from amazon_orders_pipeline.settings import Settings
    from amazon_orders_pipeline.sp_api.notifications import (
        NOTIFICATION_TYPES,
        NOTIFICATIONS_SCOPE,
        ensure_destination,
        ensure_subscription,
    )

    sp_api = build_resources(Settings.from_env(environ))["sp_api"]
    accounts = [a for a in sp_api.accounts().values() if account_ids is None or a.id in account_ids]
    destinations: dict[str, str] = {}
    out: dict = {"queue_arn": queue_arn, "destinations": {}, "accounts": {}}
    for account in accounts:
        # A destination belongs to a region's endpoint: one per region, made with that region's first account.
        if account.region not in destinations:
            grantless = sp_api.grantless_client_for(account, NOTIFICATIONS_SCOPE)
            destination_id, created = ensure_destination(grantless, queue_arn, name)
            destinations[account.region] = destination_id
            out["destinations"][account.region] = {"destination_id": destination_id, "created": created}
        made = {}
        for kind in types or NOTIFICATION_TYPES:
            subscription, created = ensure_subscription(sp_api.client_for(account), kind, destinations[account.region])
            made[kind] = {"subscription_id": subscription["subscriptionId"], "created": created}
        first = made[(types or NOTIFICATION_TYPES)[0]]
        out["accounts"][account.id] = {**first, "subscriptions": made}
    return out


def notifications_setup(args: argparse.Namespace) -> int:
    from amazon_orders_pipeline.settings import ConfigError
    from amazon_orders_pipeline.sp_api.auth import AuthError
    from amazon_orders_pipeline.sp_api.http import SpApiError

    try:
        print(json.dumps(set_up(args.queue_arn, args.name, account_ids=args.account, types=args.type), indent=1))
    except (ConfigError, AuthError, SpApiError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="amazon-orders", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, doc: str, run) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=doc.split(":")[0].split(".")[0], description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(run=run)
        return p

    h = command("history", HISTORY, history)
    h.add_argument("--start", type=date.fromisoformat, required=True, help="first UTC day")
    h.add_argument("--end", type=date.fromisoformat, required=True, help="last UTC day")
    h.add_argument("--account", action="append", help="an account id (default: every account)")
    h.add_argument("--no-exports", action="store_true",
                   help="stop at the marts: no export files for the range (an ERP that has these orders already)")
    command("writeback", WRITEBACK, writes("writeback"))
    command("mcf", MCF, writes("mcf"))
    n = command("notifications-setup", NOTIFICATIONS_SETUP, notifications_setup)
    n.add_argument("--queue-arn", required=True, help="the SQS queue's ARN (arn:aws:sqs:region:account:name)")
    n.add_argument("--name", default="amazon-orders-pipeline", help="the destination's name")
    n.add_argument("--account", action="append", help="only this account (repeat for more); all by default")
    n.add_argument("--type", action="append", choices=["ORDER_CHANGE", "TRANSACTION_UPDATE"],
                   help="only this notification type (repeat for more); both by default")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
