"""ORDER_CHANGE messages from the queue: read, validated against Amazon's shape (OrderChangeNotification.json),
and mapped to an account, or set aside with a reason. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

ORDER_CHANGE = "ORDER_CHANGE"


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


def parse(body: bytes | str, accounts_by_seller: dict[str, list[tuple[str, tuple[str, ...]]]]) -> OrderChange:
    """An SQS message body as an OrderChange, or Rejected.

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
    if kind != ORDER_CHANGE:
        raise Rejected(f"NotificationType is {kind!r}, not {ORDER_CHANGE}")
    payload = (data.get("Payload") or {}).get("OrderChangeNotification") if isinstance(data.get("Payload"), dict) \
        else None
    meta = data.get("NotificationMetadata")
    if not isinstance(payload, dict) or not isinstance(meta, dict):
        raise Rejected("no Payload.OrderChangeNotification or NotificationMetadata")
    notification_id = meta.get("NotificationId")
    if not isinstance(notification_id, str) or not notification_id:
        raise Rejected("no NotificationMetadata.NotificationId")
    order_id = payload.get("AmazonOrderId")
    if not isinstance(order_id, str) or len(order_id.split("-")) != 3:
        raise Rejected(f"AmazonOrderId is missing or malformed: {order_id!r}")
    summary = payload.get("Summary") if isinstance(payload.get("Summary"), dict) else {}
    seller, marketplace = payload.get("SellerId"), summary.get("MarketplaceId")
    candidates = accounts_by_seller.get(seller) if isinstance(seller, str) else None
    if not candidates:
        raise Rejected(f"SellerId {seller!r} is no account's")
    matching = [a for a, marketplaces in candidates if marketplace in marketplaces]
    if not matching:
        raise Rejected(f"MarketplaceId {marketplace!r} is in none of seller {seller}'s accounts")
    trigger = payload.get("OrderChangeTrigger") if isinstance(payload.get("OrderChangeTrigger"), dict) else {}
    changed_at = (_time(trigger.get("TimeOfOrderChange")) or _time(data.get("EventTime"))
                  or _time(meta.get("PublishTime")))
    if changed_at is None:
        raise Rejected("no TimeOfOrderChange, EventTime or PublishTime")
    return OrderChange(notification_id, matching[0], order_id, changed_at, str(summary.get("OrderStatus")), double)
