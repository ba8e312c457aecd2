"""The Feeds API 2021-06-30 (backend: emulator/feeds.py), whose model declares the rate header on every response;
and the pre-signed upload and result URLs it hands out."""

from __future__ import annotations

from amazon_orders_pipeline.emulator.feeds import FEED_DOCUMENTS_PATH, FEEDS_PATH, RESULT_PATH, UPLOAD_PATH
from amazon_orders_pipeline.emulator.http import Call, Reply, operation, plain

ON = (200, 201, 202, 400, 401, 403, 404, 413, 415, 429, 500, 503)


def upload(call: Call) -> Reply:
    status, content = call.backends.feeds.upload(call.request.groups[0], call.request.body)
    return Reply(status, content, {"Content-Type": "application/xml"})


def result(call: Call) -> Reply:
    status, content = call.backends.feeds.download(call.request.groups[0])
    return Reply(status, content, {"Content-Type": "text/xml;charset=UTF-8"})


ROUTES = [
    plain("PUT", UPLOAD_PATH + r"(.*)", upload),
    plain("GET", RESULT_PATH + r"(.*)", result),
    operation("POST", FEED_DOCUMENTS_PATH, "createFeedDocument",
              lambda c: c.backends.feeds.create_document(c.seller, c.request.body, c.request.base_url),
              rate_header_on=ON),
    operation("GET", FEED_DOCUMENTS_PATH + r"/(.+)", "getFeedDocument",
              lambda c: c.backends.feeds.result_document(c.seller, c.request.groups[0], c.request.base_url),
              rate_header_on=ON),
    operation("POST", FEEDS_PATH, "createFeed", lambda c: c.backends.feeds.create(c.seller, c.request.body),
              rate_header_on=ON),
    operation("GET", FEEDS_PATH, "getFeeds", lambda c: c.backends.feeds.search(c.seller, c.request.params),
              rate_header_on=ON),
    operation("GET", FEEDS_PATH + r"/(.+)", "getFeed", lambda c: c.backends.feeds.get(c.seller, c.request.groups[0]),
              rate_header_on=ON),
    operation("DELETE", FEEDS_PATH + r"/(.+)", "cancelFeed",
              lambda c: c.backends.feeds.cancel(c.seller, c.request.groups[0]), rate_header_on=ON),
]
