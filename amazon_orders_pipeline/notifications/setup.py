"""Set up ORDER_CHANGE notifications for every account: the SQS queue's destination (grantless createDestination)
and each account's subscription to it (createSubscription with the ORDER_CHANGE event filter). Safe to run again:
what exists is found, not created twice. Prints one JSON object.

    python -m amazon_orders_pipeline.notifications.setup --queue-arn arn:aws:sqs:us-east-1:123456789012:orders

The queue must be a standard queue whose policy lets Amazon's account 437568002678 call sqs:SendMessage and
sqs:GetQueueAttributes; Amazon does not check that at subscribe time (README, "Notifications")."""

from __future__ import annotations

import argparse
import json
import sys

from amazon_orders_pipeline.accounts import ConfigError
from amazon_orders_pipeline.resources import build_resources
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.sp_api.auth import AuthError
from amazon_orders_pipeline.sp_api.client import SpApiError
from amazon_orders_pipeline.sp_api.notifications import (
    NOTIFICATIONS_SCOPE,
    ensure_destination,
    ensure_order_change_subscription,
)


def set_up(queue_arn: str, name: str, environ=None, account_ids: list[str] | None = None) -> dict:
    """The destination and every account's subscription (or only `account_ids`')."""
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
        subscription, created = ensure_order_change_subscription(sp_api.client_for(account),
                                                                 destinations[account.region])
        out["accounts"][account.id] = {"subscription_id": subscription["subscriptionId"], "created": created}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amazon_orders_pipeline.notifications.setup",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queue-arn", required=True, help="the SQS queue's ARN (arn:aws:sqs:region:account:name)")
    parser.add_argument("--name", default="amazon-orders-pipeline", help="the destination's name")
    parser.add_argument("--account", action="append", help="only this account (repeat for more); all by default")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(set_up(args.queue_arn, args.name, account_ids=args.account), indent=1))
    except (ConfigError, AuthError, SpApiError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
