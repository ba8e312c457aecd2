"""The Notifications API v1 (notifications.json): an SQS destination (grantless) and each seller's ORDER_CHANGE
subscription to it, created once and found again when they already exist (409)."""

from __future__ import annotations

from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
DESTINATIONS_PATH = "/notifications/v1/destinations"
SUBSCRIPTIONS_PATH = "/notifications/v1/subscriptions"
ORDER_CHANGE = "ORDER_CHANGE"
# ORDER_CHANGE needs an event filter (400 "Processing Directive eventFilter must not be empty" without one); it may
# not name marketplaces. Without orderChangeTypes, every change type is sent.
ORDER_CHANGE_DIRECTIVE = {"eventFilter": {"eventFilterType": ORDER_CHANGE}}


def ensure_destination(grantless: SpApiClient, queue_arn: str, name: str) -> tuple[str, bool]:
    """(destination id, created?) of the SQS queue's destination: created, or the existing one for that ARN."""
    try:
        resp = grantless.call("createDestination", "POST", DESTINATIONS_PATH, json_body={
            "name": name, "resourceSpecification": {"sqs": {"arn": queue_arn}}})
        return str(resp.data["payload"]["destinationId"]), True
    except SpApiError as e:
        if e.status != 409:
            raise
    listed = grantless.call("getDestinations", "GET", DESTINATIONS_PATH).data.get("payload") or []
    for destination in listed:
        if ((destination.get("resource") or {}).get("sqs") or {}).get("arn") == queue_arn:
            return str(destination["destinationId"]), False
    raise SpApiError("getDestinations", 409, "Conflict", f"no destination for {queue_arn} although one exists")


def ensure_order_change_subscription(seller: SpApiClient, destination_id: str) -> tuple[dict, bool]:
    """(subscription, created?) of the seller's ORDER_CHANGE subscription to the destination."""
    path = f"{SUBSCRIPTIONS_PATH}/{ORDER_CHANGE}"
    try:
        resp = seller.call("createSubscription", "POST", path, json_body={
            "payloadVersion": "1.0", "destinationId": destination_id,
            "processingDirective": ORDER_CHANGE_DIRECTIVE})
        return resp.data["payload"], True
    except SpApiError as e:
        if e.status != 409:
            raise
    existing = seller.call("getSubscription", "GET", path, {"payloadVersion": "1.0"}).data["payload"]
    if existing.get("destinationId") != destination_id:
        raise SpApiError("createSubscription", 409, "Conflict",
                         f"the seller's ORDER_CHANGE subscription {existing.get('subscriptionId')} goes to "
                         f"destination {existing.get('destinationId')}, not {destination_id}; delete it first")
    return existing, False
