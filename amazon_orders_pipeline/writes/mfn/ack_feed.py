"""The order acknowledgement feed (POST_ORDER_ACKNOWLEDGEMENT_DATA) that cancels merchant-fulfilled orders, and its
processing report. Amazon has no generally available REST cancel for these orders (spapi-writeback-notes 4.1-4.2).

Each order is one Message: StatusCode `Failure` and an Item per order item with its CancelReason (a sender that
left the Items out reported that the cancel did not take effect). The report has a Result for each message with
an error or warning, by MessageID; a message without one was processed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

FEED_TYPE = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
CONTENT_TYPE = "text/xml; charset=UTF-8"


@dataclass(frozen=True)
class Cancellation:
    message_id: int
    order_id: str
    item_ids: list[str]
    reason: str


@dataclass(frozen=True)
class Report:
    processed: int
    errors: dict[int, str]  # MessageID -> Amazon's description (with its result code)
    fatal: str | None = None  # an error about the whole document (MessageID 0)


class UnreadableReport(ValueError):
    pass


def document(merchant_id: str, cancellations: list[Cancellation]) -> bytes:
    messages = []
    for c in cancellations:
        items = "".join(f"<Item><AmazonOrderItemCode>{escape(i)}</AmazonOrderItemCode>"
                        f"<CancelReason>{escape(c.reason)}</CancelReason></Item>" for i in c.item_ids)
        messages.append(f"<Message><MessageID>{c.message_id}</MessageID><OrderAcknowledgement>"
                        f"<AmazonOrderID>{escape(c.order_id)}</AmazonOrderID><StatusCode>Failure</StatusCode>"
                        f"{items}</OrderAcknowledgement></Message>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<AmazonEnvelope><Header><DocumentVersion>1.01</DocumentVersion>'
            f"<MerchantIdentifier>{escape(merchant_id)}</MerchantIdentifier></Header>"
            f"<MessageType>OrderAcknowledgement</MessageType>{''.join(messages)}</AmazonEnvelope>").encode()


def read_report(content: bytes) -> Report:
    try:
        root = ET.fromstring(content)
    except ET.ParseError as e:
        raise UnreadableReport(f"the processing report is not XML: {e}") from None
    summary = root.find(".//ProcessingSummary")
    if summary is None:
        raise UnreadableReport("the processing report has no ProcessingSummary")
    errors: dict[int, str] = {}
    fatal = None
    for result in root.iter("Result"):
        if (result.findtext("ResultCode") or "").strip() != "Error":
            continue
        description = (f"{(result.findtext('ResultDescription') or '').strip()} "
                       f"(code {(result.findtext('ResultMessageCode') or '?').strip()})")
        try:
            message_id = int((result.findtext("MessageID") or "").strip())
        except ValueError:
            message_id = 0
        if message_id == 0:
            fatal = description
        else:
            errors[message_id] = description
    try:
        processed = int(summary.findtext("MessagesProcessed") or 0)
    except ValueError:
        raise UnreadableReport("MessagesProcessed is not a number") from None
    return Report(processed, errors, fatal)
