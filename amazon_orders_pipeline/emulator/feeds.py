"""The Feeds API 2021-06-30 for the order acknowledgement feed (POST_ORDER_ACKNOWLEDGEMENT_DATA), through which a
seller cancels its merchant-fulfilled orders: a feed document uploaded to a pre-signed URL, a feed that processes
over emulated time, and a processing report that accepts or rejects each message as Amazon's does.

The XML is read as the legacy OrderAcknowledgement schema describes it (reported, not in the SP-API docs): a
Message per order with MessageID, AmazonOrderID, StatusCode `Failure` to cancel, and an Item per order item with
AmazonOrderItemCode and CancelReason. The processing report is the MWS-era ProcessingReport envelope; its result
codes are the emulator's own."""

from __future__ import annotations

import base64
import json
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.errors import ApiError, invalid, json_object, s3_error
from amazon_orders_pipeline.emulator.orders import iso
from amazon_orders_pipeline.emulator.query import listing_page, resume_listing
from amazon_orders_pipeline.emulator.query import multi as _multi
from amazon_orders_pipeline.emulator.query import single as _single

FEEDS_PATH = "/feeds/2021-06-30/feeds"
FEED_DOCUMENTS_PATH = "/feeds/2021-06-30/documents"
UPLOAD_PATH = "/_emulator/feed-uploads/"
RESULT_PATH = "/_emulator/feed-documents/"
ORDER_ACKNOWLEDGEMENT = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
FEED_TYPES = {ORDER_ACKNOWLEDGEMENT}
STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
URL_TTL = timedelta(minutes=5)
METADATA_TTL = timedelta(days=90)
# How long Amazon takes to process an order feed, in Amazon's seconds (divided by the emulator's speed).
DEFAULT_FEED_PROCESSING_S = 120.0
MAX_FEED_BYTES = 10 * 1024 * 1024
CANCEL_REASONS = {
    "NoInventory", "ShippingAddressUndeliverable", "CustomerExchange", "BuyerCanceled", "GeneralAdjustment",
    "CarrierCreditDecision", "RiskAssessmentInformationNotValid", "CarrierCoverageFailure", "CustomerReturn",
    "MerchandiseNotReceived",
}


@dataclass
class FeedDocument:
    document_id: str
    seller: str
    content_type: str
    content: bytes | None = None  # None until uploaded


@dataclass
class Feed:
    feed_id: str
    seller: str
    feed_type: str
    marketplace_ids: list[str]
    created: datetime
    processing: timedelta
    outcome: str = "DONE"  # DONE or FATAL, decided when the feed was created
    cancelled_at: datetime | None = None
    result_document_id: str | None = None
    results: list[dict] = field(default_factory=list)

    def status(self, now: datetime) -> tuple[str, datetime | None, datetime | None]:
        if self.cancelled_at is not None:
            return "CANCELLED", None, self.cancelled_at
        started, ended = self.created + self.processing / 4, self.created + self.processing
        if now < started:
            return "IN_QUEUE", None, None
        if now < ended:
            return "IN_PROGRESS", started, None
        return self.outcome, started, ended

    def to_api(self, now: datetime) -> dict:
        status, started, ended = self.status(now)
        out = {"feedId": self.feed_id, "feedType": self.feed_type, "marketplaceIds": self.marketplace_ids,
               "createdTime": iso(self.created), "processingStatus": status}
        if started:
            out["processingStartTime"] = iso(started)
        if ended:
            out["processingEndTime"] = iso(ended)
        if status in ("DONE", "FATAL") and self.result_document_id:
            out["resultFeedDocumentId"] = self.result_document_id
        return out


class Feeds:
    """Every seller's feed documents and feeds. A feed's messages are decided when it is created, against the orders
    as they will be when its processing ends; accepted cancellations take effect at that moment."""

    def __init__(self, state, merchant, processing_s: float = DEFAULT_FEED_PROCESSING_S):
        self.state = state
        self.merchant = merchant
        self.processing_s = processing_s
        self._documents: dict[str, FeedDocument] = {}
        self._results: dict[str, tuple[str, bytes]] = {}  # result document id -> (seller, content)
        self._feeds: dict[str, Feed] = {}
        self._lock = threading.Lock()
        self._counter = 0

    # --- documents ------------------------------------------------------------------------------
    def create_document(self, seller: str, raw: bytes, base_url: str) -> tuple[int, dict]:
        spec = json_object(raw, "a CreateFeedDocumentSpecification")
        content_type = spec.get("contentType")
        if not isinstance(content_type, str) or not content_type.strip():
            raise invalid("contentType is required")
        document_id = "amzn1.tortuga.4." + uuid.uuid4().hex
        with self._lock:
            self._documents[document_id] = FeedDocument(document_id, seller, content_type)
        return 201, {"feedDocumentId": document_id, "url": base_url + UPLOAD_PATH + self._sign(document_id)}

    def upload(self, token: str, content: bytes) -> tuple[int, bytes]:
        """The pre-signed upload URL (an S3 PUT): the bytes, until the URL expires."""
        document_id, error = self._verify(token)
        if error:
            return 403, error
        if len(content) > MAX_FEED_BYTES:
            return 400, s3_error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        with self._lock:
            doc = self._documents.get(document_id)
            if doc is None:
                return 404, s3_error("NoSuchKey", "The specified key does not exist.")
            doc.content = content
        return 200, b""

    def result_document(self, seller: str, document_id: str, base_url: str) -> tuple[int, dict]:
        with self._lock:
            found = self._results.get(document_id)
        if found is None or found[0] != seller:
            raise ApiError(404, "NotFound", f"Feed document {document_id} was not found.")
        return 200, {"feedDocumentId": document_id, "url": base_url + RESULT_PATH + self._sign(document_id)}

    def download(self, token: str) -> tuple[int, bytes]:
        document_id, error = self._verify(token)
        if error:
            return 403, error
        with self._lock:
            found = self._results.get(document_id)
        if found is None:
            return 404, s3_error("NoSuchKey", "The specified key does not exist.")
        return 200, found[1]

    # --- feeds ----------------------------------------------------------------------------------
    def create(self, seller: str, raw: bytes) -> tuple[int, dict]:
        spec = json_object(raw, "a CreateFeedSpecification")
        feed_type = spec.get("feedType")
        if feed_type not in FEED_TYPES:
            raise invalid(f"feedType {feed_type!r} is not supported by this emulator: {sorted(FEED_TYPES)}")
        marketplaces = spec.get("marketplaceIds")
        if (not isinstance(marketplaces, list) or not 1 <= len(marketplaces) <= 25
                or not all(m in MARKETPLACES for m in marketplaces)):
            raise invalid("marketplaceIds must list 1 to 25 valid marketplace ids")
        self.state.regional_marketplaces(seller, marketplaces)
        with self._lock:
            doc = self._documents.get(str(spec.get("inputFeedDocumentId")))
        if doc is None or doc.seller != seller:
            raise invalid("inputFeedDocumentId was not found")
        if doc.content is None:
            raise invalid("The feed document has no content: upload it before calling createFeed")
        now = self.state.clock.now()
        processing = timedelta(seconds=self.processing_s / self.state.speed)
        with self._lock:
            self._counter += 1
            feed_id = str(60_000_000_000 + self._counter)
        feed = Feed(feed_id, seller, feed_type, [str(m) for m in marketplaces], now, processing)
        report = self._process(feed, doc.content, now + processing)
        feed.result_document_id = "amzn1.tortuga.4.result." + uuid.uuid4().hex
        with self._lock:
            self._feeds[feed_id] = feed
            self._results[feed.result_document_id] = (seller, report)
        return 202, {"feedId": feed_id}

    def get(self, seller: str, feed_id: str) -> tuple[int, dict]:
        return 200, self._feed(seller, feed_id).to_api(self.state.clock.now())

    def search(self, seller: str, params: dict[str, list[str]]) -> tuple[int, dict]:
        params, offset = resume_listing(params)
        types = _multi(params, "feedTypes")
        if not types:
            raise invalid("feedTypes is required unless nextToken is given")
        statuses = _multi(params, "processingStatuses")
        if bad := [s for s in statuses if s not in STATUSES]:
            raise invalid(f"invalid processingStatuses: {bad}")
        now = self.state.clock.now()
        since_raw = _single(params, "createdSince")
        since = datetime.fromisoformat(since_raw.replace("Z", "+00:00")) if since_raw else now - METADATA_TTL
        with self._lock:
            mine = [f for f in self._feeds.values() if f.seller == seller and f.feed_type in types
                    and f.created >= since and now - f.created <= METADATA_TTL]
        feeds = [f.to_api(now) for f in sorted(mine, key=lambda f: f.created, reverse=True)]
        feeds = [f for f in feeds if not statuses or f["processingStatus"] in statuses]
        return 200, listing_page(feeds, "feeds", params, offset)

    def cancel(self, seller: str, feed_id: str) -> tuple[int, None]:
        feed = self._feed(seller, feed_id)
        now = self.state.clock.now()
        status = feed.status(now)[0]
        if status != "IN_QUEUE":
            raise invalid(f"Feed {feed_id} is {status}; only a feed IN_QUEUE can be cancelled")
        feed.cancelled_at = now
        return 200, None

    # --- internals ------------------------------------------------------------------------------
    def _feed(self, seller: str, feed_id: str) -> Feed:
        with self._lock:
            feed = self._feeds.get(feed_id)
        if feed is None or feed.seller != seller:  # a feedId is unique only with a seller id
            raise ApiError(404, "NotFound", f"Feed {feed_id} was not found.")
        return feed

    def _process(self, feed: Feed, content: bytes, at: datetime) -> bytes:
        """Decide each message and write the processing report. An unreadable document ends FATAL."""
        try:
            root = ET.fromstring(content)
            if root.tag != "AmazonEnvelope" or root.findtext("MessageType") != "OrderAcknowledgement":
                raise ValueError("not an AmazonEnvelope of MessageType OrderAcknowledgement")
        except (ET.ParseError, ValueError) as e:
            feed.outcome = "FATAL"
            return _report([], 0, f"This is a malformed or invalid XML document: {e}")
        results, processed = [], 0
        for message in root.iter("Message"):
            processed += 1
            message_id = message.findtext("MessageID") or ""
            ack = message.find("OrderAcknowledgement")
            order_id = (ack.findtext("AmazonOrderID") if ack is not None else None) or ""
            problem = self._cancellation_problem(ack, order_id)
            if problem is None and ack.findtext("StatusCode") == "Failure":
                items = {i.findtext("AmazonOrderItemCode") for i in ack.findall("Item")}
                problem = self.merchant.cancel(feed.seller, order_id, at, items)
            if problem is not None:
                results.append({"message_id": message_id, "order_id": order_id, "description": problem})
        feed.results = results
        return _report(results, processed)

    @staticmethod
    def _cancellation_problem(ack, order_id: str) -> str | None:
        """What is wrong with a message's shape, or None."""
        if ack is None or not order_id:
            return "The message has no OrderAcknowledgement with an AmazonOrderID."
        if ack.findtext("StatusCode") not in ("Success", "Failure"):
            return "StatusCode must be Success or Failure."
        if ack.findtext("StatusCode") == "Success":
            return None  # an acknowledgement, not a cancellation: nothing changes here
        items = ack.findall("Item")
        if not items:
            return "A cancellation must list its items (Item with AmazonOrderItemCode and CancelReason)."
        if bad := [i.findtext("CancelReason") for i in items if i.findtext("CancelReason") not in CANCEL_REASONS]:
            return f"CancelReason {bad[0]!r} is not valid."
        return None

    def _sign(self, document_id: str) -> str:
        expires = self.state.clock.now() + URL_TTL
        return base64.urlsafe_b64encode(json.dumps(
            {"d": document_id, "x": expires.isoformat()}).encode()).decode().rstrip("=")

    def _verify(self, token: str) -> tuple[str, bytes | None]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            document_id, expires = str(data["d"]), datetime.fromisoformat(data["x"])
        except (ValueError, KeyError, TypeError):
            return "", s3_error("SignatureDoesNotMatch", "The request signature we calculated does not match.")
        if self.state.clock.now() > expires:
            return "", s3_error("AccessDenied", "Request has expired")
        return document_id, None


def _report(errors: list[dict], processed: int, fatal: str | None = None) -> bytes:
    """A ProcessingReport: a summary, and a Result per message with an error."""
    results = "".join(
        f"<Result><MessageID>{escape(e['message_id'])}</MessageID><ResultCode>Error</ResultCode>"
        f"<ResultMessageCode>{_code(e['description'])}</ResultMessageCode>"
        f"<ResultDescription>{escape(e['description'])}</ResultDescription>"
        f"<AdditionalInfo><AmazonOrderID>{escape(e['order_id'])}</AmazonOrderID></AdditionalInfo></Result>"
        for e in errors)
    if fatal:
        results = (f"<Result><MessageID>0</MessageID><ResultCode>Error</ResultCode><ResultMessageCode>5000"
                   f"</ResultMessageCode><ResultDescription>{escape(fatal)}</ResultDescription></Result>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<AmazonEnvelope><Header><DocumentVersion>1.02</DocumentVersion>'
            "</Header><MessageType>ProcessingReport</MessageType><Message><MessageID>1</MessageID>"
            f"<ProcessingReport><StatusCode>Complete</StatusCode><ProcessingSummary>"
            f"<MessagesProcessed>{processed}</MessagesProcessed>"
            f"<MessagesSuccessful>{processed - len(errors)}</MessagesSuccessful>"
            f"<MessagesWithError>{len(errors) if not fatal else 1}</MessagesWithError>"
            f"<MessagesWithWarning>0</MessagesWithWarning></ProcessingSummary>{results}</ProcessingReport>"
            "</Message></AmazonEnvelope>").encode()


def _code(description: str) -> int:
    """The emulator's own result codes: one per kind of refusal."""
    for needle, code in (("not found", 18028), ("fulfilled by Amazon", 18029), ("shipped", 18030)):
        if needle in description:
            return code
    return 18000
