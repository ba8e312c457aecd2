"""Messages from the notifications queue: ORDER_CHANGE (OrderChangeNotification.json) and TRANSACTION_UPDATE
(TransactionUpdateNotification.json), read, validated against Amazon's shape and mapped to an account, or set aside
with a reason. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

ORDER_CHANGE = "ORDER_CHANGE"
TRANSACTION_UPDATE = "TRANSACTION_UPDATE"
# The names TRANSACTION_UPDATE's RelatedIdentifiers give an order: Amazon's example spells it `OrderId`, where
# listTransactions says ORDER_ID.
ORDER_ID_NAMES = {"orderid", "order_id"}


@dataclass(frozen=True)
class OrderChange:
    """One ORDER_CHANGE notification, mapped to the account it belongs to."""

    notification_id: str
    account_id: str
    order_id: str
    changed_at: datetime  # TimeOfOrderChange, or when it is null, EventTime / PublishTime
    status: str  # v0 vocabulary, as Amazon sends it
    double_encoded: bool = False

    @property
    def day(self) -> date:
        """The change window (partition) the change belongs to."""
        return self.changed_at.date()


@dataclass(frozen=True)
class TransactionUpdate:
    """One TRANSACTION_UPDATE notification, mapped to its account: a transaction was posted. It carries no
    transactionId, status or breakdown: it is a reason to read the order's transactions, never the record."""

    notification_id: str
    account_id: str
    order_id: str | None  # None: money without an order (a fee, a reimbursement); the day's reads cover it
    changed_at: datetime  # PostedDate
    transaction_type: str
    amount: str  # TotalAmount, as sent
    currency: str
    double_encoded: bool = False

    @property
    def day(self) -> date:
        """The posted day (partition) the transaction belongs to."""
        return self.changed_at.date()


class Rejected(ValueError):
    """A message that is not an ORDER_CHANGE this pipeline can act on; the reason says why."""


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


Accounts = dict[str, list[tuple[str, tuple[str, ...]]]]


def _account(accounts_by_seller: Accounts, seller: object, marketplace: object) -> str:
    candidates = accounts_by_seller.get(seller) if isinstance(seller, str) else None
    if not candidates:
        raise Rejected(f"SellerId {seller!r} is no account's")
    matching = [a for a, marketplaces in candidates if marketplace in marketplaces]
    if not matching:
        raise Rejected(f"MarketplaceId {marketplace!r} is in none of seller {seller}'s accounts")
    return matching[0]


def parse(body: bytes | str, accounts_by_seller: Accounts) -> OrderChange | TransactionUpdate:
    """An SQS message body as an OrderChange or a TransactionUpdate, or Rejected.

    The body is the notification JSON itself; one encoded twice (a JSON string holding it) is read too, as Amazon's
    own sample handler does. `accounts_by_seller`: SellerId -> [(account id, its marketplace ids)], since one
    seller may have an account per region."""
    try:
        data = json.loads(body)
        double = isinstance(data, str)
        if double:
            data = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise Rejected(f"not JSON: {e}") from None
    if not isinstance(data, dict):
        raise Rejected("not a JSON object")
    kind = data.get("NotificationType")
    if kind not in (ORDER_CHANGE, TRANSACTION_UPDATE):
        raise Rejected(f"NotificationType is {kind!r}, not {ORDER_CHANGE} or {TRANSACTION_UPDATE}")
    name = "OrderChangeNotification" if kind == ORDER_CHANGE else "TransactionUpdateNotification"
    payload = (data.get("Payload") or {}).get(name) if isinstance(data.get("Payload"), dict) else None
    meta = data.get("NotificationMetadata")
    if not isinstance(payload, dict) or not isinstance(meta, dict):
        raise Rejected(f"no Payload.{name} or NotificationMetadata")
    notification_id = meta.get("NotificationId")
    if not isinstance(notification_id, str) or not notification_id:
        raise Rejected("no NotificationMetadata.NotificationId")
    if kind == TRANSACTION_UPDATE:
        return _transaction_update(payload, notification_id, accounts_by_seller, double)
    order_id = payload.get("AmazonOrderId")
    if not isinstance(order_id, str) or len(order_id.split("-")) != 3:
        raise Rejected(f"AmazonOrderId is missing or malformed: {order_id!r}")
    summary = payload.get("Summary") if isinstance(payload.get("Summary"), dict) else {}
    account_id = _account(accounts_by_seller, payload.get("SellerId"), summary.get("MarketplaceId"))
    trigger = payload.get("OrderChangeTrigger") if isinstance(payload.get("OrderChangeTrigger"), dict) else {}
    changed_at = (_time(trigger.get("TimeOfOrderChange")) or _time(data.get("EventTime"))
                  or _time(meta.get("PublishTime")))
    if changed_at is None:
        raise Rejected("no TimeOfOrderChange, EventTime or PublishTime")
    return OrderChange(notification_id, account_id, order_id, changed_at, str(summary.get("OrderStatus")), double)


def _transaction_update(payload: dict, notification_id: str, accounts_by_seller: Accounts,
                        double: bool) -> TransactionUpdate:
    partner = payload.get("SellingPartnerMetadata")
    if not isinstance(partner, dict):
        raise Rejected("no SellingPartnerMetadata")
    account_id = _account(accounts_by_seller, partner.get("SellingPartnerId"), partner.get("MarketplaceId"))
    posted = _time(payload.get("PostedDate"))
    if posted is None:
        raise Rejected(f"PostedDate is missing or not a date-time: {payload.get('PostedDate')!r}")
    kind = payload.get("TransactionType")
    if not isinstance(kind, str) or not kind:
        raise Rejected("no TransactionType")
    total = payload.get("TotalAmount")
    amount = total.get("CurrencyAmount") if isinstance(total, dict) else None
    currency = total.get("CurrencyCode") if isinstance(total, dict) else None
    if isinstance(amount, bool) or not isinstance(amount, (int, float, str)) or not isinstance(currency, str):
        raise Rejected("TotalAmount has no CurrencyAmount and CurrencyCode")
    related = payload.get("RelatedIdentifiers") or []
    if not isinstance(related, list):
        raise Rejected("RelatedIdentifiers is not a list")
    orders = [r.get("RelatedIdentifierValue") for r in related if isinstance(r, dict)
              and str(r.get("RelatedIdentifierName", "")).lower() in ORDER_ID_NAMES]
    order_id = orders[0] if orders else None
    if order_id is not None and (not isinstance(order_id, str) or not order_id.strip() or len(order_id) > 64
                                 or any(c.isspace() for c in order_id)):
        raise Rejected(f"the OrderId is malformed: {order_id!r}")
    return TransactionUpdate(notification_id, account_id, order_id, posted, kind, str(amount), currency, double)
