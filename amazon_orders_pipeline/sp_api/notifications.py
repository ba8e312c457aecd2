"""The Notifications API v1 (notifications.json): an SQS destination (grantless) and each seller's ORDER_CHANGE and
TRANSACTION_UPDATE subscriptions to it, created once and found again when they already exist (409)."""

from __future__ import annotations

from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
DESTINATIONS_PATH = "/notifications/v1/destinations"
SUBSCRIPTIONS_PATH = "/notifications/v1/subscriptions"
ORDER_CHANGE = "ORDER_CHANGE"
TRANSACTION_UPDATE = "TRANSACTION_UPDATE"
NOTIFICATION_TYPES = (ORDER_CHANGE, TRANSACTION_UPDATE)
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


def ensure_subscription(seller: SpApiClient, notification_type: str, destination_id: str) -> tuple[dict, bool]:
    """(subscription, created?) of the seller's subscription of that type to the destination. TRANSACTION_UPDATE
    takes no processing directive."""
    path = f"{SUBSCRIPTIONS_PATH}/{notification_type}"
    body = {"payloadVersion": "1.0", "destinationId": destination_id}
    if notification_type == ORDER_CHANGE:
        body["processingDirective"] = ORDER_CHANGE_DIRECTIVE
    try:
        resp = seller.call("createSubscription", "POST", path, json_body=body)
        return resp.data["payload"], True
    except SpApiError as e:
        if e.status != 409:
            raise
    existing = seller.call("getSubscription", "GET", path, {"payloadVersion": "1.0"}).data["payload"]
    if existing.get("destinationId") != destination_id:
        raise SpApiError("createSubscription", 409, "Conflict",
                         f"the seller's {notification_type} subscription {existing.get('subscriptionId')} goes to "
                         f"destination {existing.get('destinationId')}, not {destination_id}; delete it first")
    return existing, False
