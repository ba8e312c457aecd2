"""The ERP's request files, read line by line: every line gets an outcome (a request it became part of, or why it
is invalid), and a bad line never stops the others.

JSON Lines (`.jsonl`, `.ndjson`): one request per line.

    {"type": "shipment", "amazon_order_id": "114-1234567-1234567", "carrier": "UPS", "shipping_method": "Ground",
     "tracking_number": "1Z999", "ship_date": "2026-11-27T10:00:00Z",
     "lines": [{"order_item_id": "12345678901234", "quantity": 1}, {"sku": "ECHO-DOT", "quantity": 2}]}
    {"type": "cancellation", "amazon_order_id": "114-1234567-1234567", "reason": "NoInventory"}

CSV (`.csv`, UTF-8, a header row): one row per package line, or per cancelled order. Rows of one order with one
tracking number are one package.

    type,amazon_order_id,order_item_id,sku,quantity,carrier,shipping_method,tracking_number,ship_date,reason

`account_id` may be given (a column, or a key) where an order id could belong to two accounts; otherwise the
order's account is found in the marts."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from amazon_orders_pipeline.writes.lines import LineError, LineOutcome, file_lines, json_object_line, utf8
from amazon_orders_pipeline.writes.mfn.config import Carrier, Carriers, UnknownCarrier

ORDER_ID_RE = re.compile(r"^\d{3}-\d{7}-\d{7}$")
SHIPMENT, CANCELLATION = "shipment", "cancellation"
CSV_COLUMNS = ["type", "amazon_order_id", "order_item_id", "sku", "quantity", "carrier", "shipping_method",
               "tracking_number", "ship_date", "reason"]
# The legacy OrderAcknowledgement CancelReason values (reported from MWS-era docs; spapi-writeback-notes 4.1).
CANCEL_REASONS = [
    "NoInventory", "ShippingAddressUndeliverable", "CustomerExchange", "BuyerCanceled", "GeneralAdjustment",
    "CarrierCreditDecision", "RiskAssessmentInformationNotValid", "CarrierCoverageFailure", "CustomerReturn",
    "MerchandiseNotReceived",
]
DEFAULT_CANCEL_REASON = "NoInventory"
# A ship date may be this far ahead of our clock (the ERP's clock differs a little), not more.
FUTURE_SLACK = timedelta(minutes=10)
MAX_TEXT = 200


@dataclass(frozen=True)
class ItemLine:
    order_item_id: str | None
    sku: str | None
    quantity: int


@dataclass
class Request:
    """A shipment (one package) or a cancellation (one whole order), from one or more lines of one file."""

    kind: str
    order_id: str
    account_id: str | None
    line_numbers: list[int]
    # shipments
    tracking_number: str = ""
    carrier: Carrier | None = None
    shipping_method: str | None = None
    ship_date: datetime | None = None
    items: list[ItemLine] = field(default_factory=list)
    # cancellations
    reason: str = DEFAULT_CANCEL_REASON

    @property
    def package_reference_id(self) -> str | None:
        return package_reference_id(self.order_id, self.tracking_number) if self.kind == SHIPMENT else None

    @property
    def request_id(self) -> str:
        if self.kind == SHIPMENT:
            return f"{SHIPMENT}:{self.order_id}:{self.package_reference_id}"
        return f"{CANCELLATION}:{self.order_id}"

    def details(self) -> dict:
        """What the ERP asked for, as stored (and compared when the same request comes again)."""
        if self.kind == CANCELLATION:
            return {"reason": self.reason}
        return {"carrier_code": self.carrier.code, "carrier_name": self.carrier.name,
                "shipping_method": self.shipping_method, "tracking_number": self.tracking_number,
                "ship_date": self.ship_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "items": [{"order_item_id": i.order_item_id, "sku": i.sku, "quantity": i.quantity}
                          for i in self.items]}


@dataclass
class ParsedFile:
    requests: list[Request]
    lines: list[LineOutcome]


def package_reference_id(order_id: str, tracking_number: str) -> str:
    """The package's id for confirmShipment: a positive number (all Amazon accepts), the same for the same order
    and tracking number, so sending it again edits the package instead of adding one."""
    digest = hashlib.sha256(f"{order_id}|{tracking_number.strip()}".encode()).hexdigest()
    return str(int(digest[:13], 16) % 999_999_999_999 + 1)


def parse_file(name: str, content: bytes, carriers: Carriers, now: datetime) -> ParsedFile:
    lower = name.lower()
    if lower.endswith(".csv"):
        return _parse_csv(content, carriers, now)
    if lower.endswith((".jsonl", ".ndjson")):
        return _parse_jsonl(content, carriers, now)
    return ParsedFile([], [LineOutcome(0, "invalid", f"unsupported file type {name!r}: use .csv or .jsonl")])


def _parse_jsonl(content: bytes, carriers: Carriers, now: datetime) -> ParsedFile:
    requests, outcomes = [], []
    for n, line, ended in file_lines(content):
        try:
            data = json_object_line(line, ended)
            request = _request(data, [n], carriers, now)
            request.items = _items(data.get("lines")) if request.kind == SHIPMENT else []
        except LineError as e:
            outcomes.append(LineOutcome(n, "invalid", str(e)))
            continue
        requests.append(request)
        outcomes.append(LineOutcome(n, "accepted", request_id=request.request_id))
    return ParsedFile(requests, outcomes)


def _parse_csv(content: bytes, carriers: Carriers, now: datetime) -> ParsedFile:
    lines = file_lines(content)
    if not lines:
        return ParsedFile([], [])
    header_n, header_line, _ = lines[0]
    try:
        header = [h.strip().lower() for h in next(csv.reader([utf8(header_line)]))]
    except LineError as e:
        return ParsedFile([], [LineOutcome(n, "invalid", f"the header row is {e}") for n, _, _ in lines])
    missing = {"type", "amazon_order_id"} - set(header)
    if missing:
        reason = f"the header row lacks {sorted(missing)}; expected {','.join(CSV_COLUMNS)}"
        return ParsedFile([], [LineOutcome(n, "invalid", reason) for n, _, _ in lines])
    outcomes: dict[int, LineOutcome] = {}
    groups: dict[tuple, Request] = {}
    spoiled: dict[tuple, int] = {}  # a package's key -> its first invalid line
    for n, line, ended in lines[1:]:
        key = None
        try:
            values = next(csv.reader([utf8(line)]))
            if len(values) != len(header):
                raise LineError(f"has {len(values)} of {len(header)} fields"
                                + ("" if ended else " (the file may be truncated)"))
            row = {k: v.strip() for k, v in zip(header, values, strict=True)}
            key = (row.get("type", "").lower(), row.get("account_id", ""), row["amazon_order_id"],
                   row.get("tracking_number", ""))
            request = _request(row, [n], carriers, now)
            if request.kind == SHIPMENT:
                request.items = _items([row])
            first = groups.get(key)
            if first is None:
                groups[key] = request
            elif request.kind == CANCELLATION:
                raise LineError(f"the order's cancellation is already on line {first.line_numbers[0]}")
            elif request.details() | {"items": []} != first.details() | {"items": []}:
                raise LineError(f"disagrees with line {first.line_numbers[0]} of the same package on the carrier, "
                                "shipping method or ship date")
            else:
                first.line_numbers.append(n)
                first.items.extend(request.items)
        except LineError as e:
            outcomes[n] = LineOutcome(n, "invalid", str(e))
            if key is not None:
                spoiled.setdefault(key, n)
    requests = []
    for key, request in groups.items():
        if key in spoiled and request.kind == SHIPMENT:
            # A package with an invalid line is not sent at all: its other lines say why.
            for m in request.line_numbers:
                outcomes[m] = LineOutcome(m, "invalid", f"another line of this package is invalid: line {spoiled[key]}")
            continue
        requests.append(request)
        for m in request.line_numbers:
            outcomes[m] = LineOutcome(m, "accepted", request_id=request.request_id)
    return ParsedFile(requests, [outcomes[n] for n in sorted(outcomes)])


def _request(data: dict, line_numbers: list[int], carriers: Carriers, now: datetime) -> Request:
    kind = _str(data, "type").lower()
    if kind not in (SHIPMENT, CANCELLATION):
        raise LineError(f"type must be {SHIPMENT!r} or {CANCELLATION!r}, got {kind!r}")
    order_id = _str(data, "amazon_order_id")
    if not ORDER_ID_RE.match(order_id):
        raise LineError(f"amazon_order_id {order_id!r} is not an Amazon order id (3-7-7 digits)")
    account_id = _str(data, "account_id") or None
    if kind == CANCELLATION:
        reason = _str(data, "reason") or DEFAULT_CANCEL_REASON
        known = {r.lower(): r for r in CANCEL_REASONS}
        if reason.lower() not in known:
            raise LineError(f"reason {reason!r} is not one of Amazon's cancel reasons: {', '.join(CANCEL_REASONS)}")
        return Request(CANCELLATION, order_id, account_id, line_numbers, reason=known[reason.lower()])
    tracking = _str(data, "tracking_number")
    if not tracking:
        raise LineError("tracking_number is missing")
    carrier_name = _str(data, "carrier")
    if not carrier_name:
        raise LineError("carrier is missing")
    try:
        carrier = carriers.resolve(carrier_name)
    except UnknownCarrier as e:
        raise LineError(str(e)) from None
    return Request(SHIPMENT, order_id, account_id, line_numbers, tracking_number=tracking, carrier=carrier,
                   shipping_method=_str(data, "shipping_method") or None,
                   ship_date=_ship_date(_str(data, "ship_date"), now))


def _items(lines) -> list[ItemLine]:
    if not isinstance(lines, list) or not lines:
        raise LineError("a shipment needs its lines: order_item_id or sku, and quantity")
    items = []
    for line in lines:
        if not isinstance(line, dict):
            raise LineError("each line must be an object with order_item_id or sku, and quantity")
        item_id, sku = _str(line, "order_item_id") or None, _str(line, "sku") or None
        if not item_id and not sku:
            raise LineError("a line needs an order_item_id or a sku")
        quantity = line.get("quantity")
        if isinstance(quantity, str) and quantity.strip().isdigit():
            quantity = int(quantity)
        if type(quantity) is not int or quantity < 1:
            raise LineError(f"quantity must be a whole number of at least 1, got {line.get('quantity')!r}")
        items.append(ItemLine(item_id, sku, quantity))
    return items


def _ship_date(text: str, now: datetime) -> datetime:
    if not text:
        raise LineError("ship_date is missing")
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            value = datetime(d.year, d.month, d.day, tzinfo=UTC)
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except ValueError:
        raise LineError(f"ship_date {text!r} is not an ISO 8601 date or date-time") from None
    if value > now + FUTURE_SLACK:
        raise LineError(f"ship_date {text} is in the future")
    return value


def _str(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise LineError(f"{key} must be text")
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise LineError(f"{key} is longer than {MAX_TEXT} characters")
    return text
