"""The notifications queue's side of the landing area: messages received from SQS, landed before they are deleted,
and grouped into batches of orders to read: with getOrder (ORDER_CHANGE), or with listTransactions by ORDER_ID
(TRANSACTION_UPDATE). No Dagster here: the sensor (sensors.py) drives it.

Landing layout (under the landing area's `notifications/`):
- `order_change/date=<day of the change>/<NotificationId>.json` and `transaction_update/date=<posted day>/...`:
  each notification, verbatim as it arrived.
- `quarantine/date=<day received>/<MessageId>.json`: each message set aside, with its reason and its body.
- `batches/<batch id>.json`: the orders (per account, each with its earliest change) one run reads.
- `PENDING.json`: the batches no run has been seen for yet; the sensor asks for a run of each until one exists.
- `seen/<NotificationId>.json`: a notification already in a batch (a redelivered or duplicated one is landed
  again, harmlessly, and batched no second time).

The order of a drain makes a crash at any point lose nothing: land every message, write the batches and the
PENDING list, and only then delete the messages. A crash before the delete leaves the messages on the queue, to be
received again after their visibility timeout; a crash after it leaves the batches pending.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from amazon_orders_pipeline.notifications.messages import (
    ORDER_CHANGE,
    TRANSACTION_UPDATE,
    OrderChange,
    Rejected,
    TransactionUpdate,
    parse,
)
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

ROOT = "notifications"
PENDING_KEY = f"{ROOT}/PENDING.json"
# Long enough for a tick's worst case before a received message shows again (Amazon's sample uses 65 s).
VISIBILITY_TIMEOUT_S = 120
# Each receive waits this long for messages: a tick stays well inside the sensor's 60-second evaluation limit.
WAIT_S = 2


# Where each type's notifications land, and the prefix of its batches' ids.
FOLDERS = {ORDER_CHANGE: "order_change", TRANSACTION_UPDATE: "transaction_update"}
BATCH_PREFIX = {ORDER_CHANGE: "", TRANSACTION_UPDATE: "money-"}


@dataclass(frozen=True)
class Batch:
    batch_id: str
    day: date
    # account id -> order id -> its earliest change in the batch (ISO); for TRANSACTION_UPDATE, its latest posting
    orders: dict[str, dict[str, str]]
    notification_ids: list[str]
    kind: str = ORDER_CHANGE

    @property
    def accounts(self) -> list[str]:
        return sorted(self.orders)

    def to_json(self) -> dict:
        return {"batch_id": self.batch_id, "day": self.day.isoformat(), "orders": self.orders,
                "notification_ids": self.notification_ids, "kind": self.kind}

    @classmethod
    def from_json(cls, data: dict) -> Batch:
        return cls(data["batch_id"], date.fromisoformat(data["day"]), data["orders"], data["notification_ids"],
                   data.get("kind", ORDER_CHANGE))

    def latest(self) -> datetime:
        """The latest time any of its orders names."""
        return max(datetime.fromisoformat(at) for orders in self.orders.values() for at in orders.values())


@dataclass
class DrainResult:
    received: int = 0
    landed: int = 0
    duplicates: int = 0  # notifications already batched before (a redelivery or Amazon's duplicate)
    quarantined: list[str] = field(default_factory=list)  # reasons
    without_order: int = 0  # TRANSACTION_UPDATEs of money without an order: landed; the day's reads cover them
    batches: list[Batch] = field(default_factory=list)


def batch_key(batch_id: str) -> str:
    return f"{ROOT}/batches/{batch_id}.json"


def load_batch(landing: ObjectStore, batch_id: str) -> Batch:
    data = get_json(landing, batch_key(batch_id))
    if data is None:
        raise KeyError(f"no ORDER_CHANGE batch {batch_id} in the landing area")
    return Batch.from_json(data)


class NotificationInbox:
    def __init__(self, sqs, queue_url: str, landing: ObjectStore,
                 accounts_by_seller: dict[str, list[tuple[str, tuple[str, ...]]]], *,
                 visibility_timeout_s: int = VISIBILITY_TIMEOUT_S, wait_s: int = WAIT_S):
        self.sqs, self.queue_url, self.landing = sqs, queue_url, landing
        self.accounts_by_seller = accounts_by_seller
        self.visibility_timeout_s, self.wait_s = visibility_timeout_s, wait_s

    def drain(self, max_seconds: float = 20.0, max_messages: int = 2000,
              before_delete: Callable[[], None] | None = None) -> DrainResult:
        """Receive until the queue is empty (or the time or message budget is spent), land every message, batch the
        new changes by day, then delete what was received. `before_delete`: a test's hook, called after landing."""
        result, changes = DrainResult(), []
        handles: dict[str, str] = {}  # message id -> its latest receipt handle (only that one surely deletes)
        started = time.monotonic()
        cycled = False
        while not cycled and time.monotonic() - started < max_seconds and result.received < max_messages:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_s,
                VisibilityTimeout=self.visibility_timeout_s,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"])
            messages = answer.get("Messages") or []
            if not messages:
                break
            for message in messages:
                if message["MessageId"] in handles:
                    # Its visibility ran out while this drain went on: the queue has come round once.
                    cycled = True
                else:
                    result.received += 1
                    change = self._land(message, result)
                    if change is not None:
                        changes.append(change)
                handles[message["MessageId"]] = message["ReceiptHandle"]
        result.batches = self._batch(changes, result)
        if before_delete is not None:
            before_delete()
        receipts = list(handles.values())
        for start in range(0, len(receipts), 10):
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(receipts[start:start + 10])])
        return result

    def _land(self, message: dict, result: DrainResult) -> OrderChange | TransactionUpdate | None:
        body = message.get("Body") or ""
        try:
            change = parse(body, self.accounts_by_seller)
        except Rejected as e:
            self._quarantine(message, str(e))
            result.quarantined.append(str(e))
            return None
        kind = TRANSACTION_UPDATE if isinstance(change, TransactionUpdate) else ORDER_CHANGE
        self.landing.put(f"{ROOT}/{FOLDERS[kind]}/date={change.day.isoformat()}/{change.notification_id}.json",
                         body.encode())
        result.landed += 1
        if change.order_id is None:
            result.without_order += 1
            return None
        return change

    def _quarantine(self, message: dict, reason: str) -> None:
        now = datetime.now(UTC)
        put_json(self.landing, f"{ROOT}/quarantine/date={now.date().isoformat()}/{message['MessageId']}.json", {
            "reason": reason, "message_id": message["MessageId"], "received_at": now.isoformat(),
            "receive_count": (message.get("Attributes") or {}).get("ApproximateReceiveCount"),
            "body": message.get("Body")})

    def _batch(self, changes: list[OrderChange | TransactionUpdate], result: DrainResult) -> list[Batch]:
        """The new changes (not batched before), deduplicated, as one batch per type and day; recorded as pending
        before their notifications are marked seen."""
        by_day: dict[tuple[str, date], list[OrderChange | TransactionUpdate]] = {}
        for change in changes:
            if self.landing.get(f"{ROOT}/seen/{change.notification_id}.json") is not None:
                result.duplicates += 1
                continue
            kind = TRANSACTION_UPDATE if isinstance(change, TransactionUpdate) else ORDER_CHANGE
            by_day.setdefault((kind, change.day), []).append(change)
        batches = []
        for (kind, day), day_changes in sorted(by_day.items()):
            orders: dict[str, dict[str, str]] = {}
            ids = sorted({c.notification_id for c in day_changes})
            result.duplicates += len(day_changes) - len(ids)
            pick = max if kind == TRANSACTION_UPDATE else min
            for change in day_changes:
                known = orders.setdefault(change.account_id, {}).get(change.order_id)
                at = change.changed_at.isoformat()
                orders[change.account_id][change.order_id] = pick(known, at) if known else at
            digest = hashlib.sha256(' '.join(ids).encode()).hexdigest()[:16]
            batch_id = f"{BATCH_PREFIX[kind]}{day.isoformat()}-{digest}"
            batch = Batch(batch_id, day, orders, ids, kind)
            put_json(self.landing, batch_key(batch_id), batch.to_json())
            batches.append(batch)
        if batches:
            self._set_pending(self.pending_ids() + [b.batch_id for b in batches])
            for batch in batches:
                for notification_id in batch.notification_ids:
                    put_json(self.landing, f"{ROOT}/seen/{notification_id}.json", {"batch_id": batch.batch_id})
        return batches

    def pending_ids(self) -> list[str]:
        return list((get_json(self.landing, PENDING_KEY) or {}).get("batches", []))

    def pending(self) -> list[Batch]:
        return [load_batch(self.landing, b) for b in self.pending_ids()]

    def confirm(self, batch_ids: set[str]) -> None:
        """Batches a run exists for: no longer pending."""
        left = [b for b in self.pending_ids() if b not in batch_ids]
        if len(left) != len(self.pending_ids()):
            self._set_pending(left)

    def _set_pending(self, batch_ids: list[str]) -> None:
        put_json(self.landing, PENDING_KEY, {"batches": list(dict.fromkeys(batch_ids))})
