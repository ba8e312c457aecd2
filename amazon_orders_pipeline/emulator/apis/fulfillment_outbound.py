"""Fulfillment Outbound 2020-07-01 (backend: emulator/fulfillment.py): Multi-Channel Fulfillment orders, with the
rate header on 200, 400 and 404."""

from __future__ import annotations

from urllib.parse import unquote

from amazon_orders_pipeline.emulator.fulfillment import FULFILLMENT_PATH, PREVIEW_PATH
from amazon_orders_pipeline.emulator.http import operation

ROUTES = [
    operation("POST", PREVIEW_PATH, "getFulfillmentPreview",
              lambda c: c.backends.fulfillment.preview(c.seller, c.request.body)),
    operation("POST", FULFILLMENT_PATH, "createFulfillmentOrder",
              lambda c: c.backends.fulfillment.create(c.seller, c.request.body)),
    operation("GET", FULFILLMENT_PATH, "listAllFulfillmentOrders",
              lambda c: c.backends.fulfillment.list(c.seller, c.request.params)),
    operation("GET", FULFILLMENT_PATH + r"/([^/]+)", "getFulfillmentOrder",
              lambda c: c.backends.fulfillment.get(c.seller, unquote(c.request.groups[0]))),
    operation("PUT", FULFILLMENT_PATH + r"/([^/]+)/cancel", "cancelFulfillmentOrder",
              lambda c: c.backends.fulfillment.cancel(c.seller, unquote(c.request.groups[0]))),
]
