"""The Notifications API v1 (backend: emulator/notifications.py): destinations are grantless (an application's
token), subscriptions the seller's. The model declares the rate header on every response."""

from __future__ import annotations

from amazon_orders_pipeline.emulator.http import operation
from amazon_orders_pipeline.emulator.notifications import NOTIFICATIONS_PATH

DESTINATIONS_PATH = NOTIFICATIONS_PATH + "/destinations"
SUBSCRIPTIONS_PATH = NOTIFICATIONS_PATH + "/subscriptions"
ON = (200, 400, 403, 404, 409, 413, 415, 429, 500, 503)

ROUTES = [
    operation("POST", DESTINATIONS_PATH, "createDestination",
              lambda c: c.backends.notifications.create_destination(c.request.body), rate_header_on=ON,
              grantless=True),
    operation("GET", DESTINATIONS_PATH, "getDestinations", lambda c: c.backends.notifications.get_destinations(),
              rate_header_on=ON, grantless=True),
    operation("DELETE", DESTINATIONS_PATH + r"/(.+)", "deleteDestination",
              lambda c: c.backends.notifications.delete_destination(c.request.groups[0]), rate_header_on=ON,
              grantless=True),
    operation("GET", DESTINATIONS_PATH + r"/(.+)", "getDestination",
              lambda c: c.backends.notifications.get_destination(c.request.groups[0]), rate_header_on=ON,
              grantless=True),
    operation("POST", SUBSCRIPTIONS_PATH + r"/([^/]+)", "createSubscription",
              lambda c: c.backends.notifications.create_subscription(c.seller, c.request.groups[0], c.request.body),
              rate_header_on=ON),
    operation("GET", SUBSCRIPTIONS_PATH + r"/([^/]+)", "getSubscription",
              lambda c: c.backends.notifications.get_subscription(c.seller, c.request.groups[0]), rate_header_on=ON),
    # Grantless in the model, but reported to need the seller's token (docs#1850): the seller's.
    operation("DELETE", SUBSCRIPTIONS_PATH + r"/([^/]+)/([^/]+)", "deleteSubscriptionById",
              lambda c: c.backends.notifications.delete_subscription(c.seller, *c.request.groups), rate_header_on=ON),
]
