"""The emulator's Notifications API v1 (destinations, subscriptions; notifications.json) and its publisher, which
sends each event of a subscribed seller to the destination's SQS queue (moto server in tests) in Amazon's shape,
after a publish delay like Amazon's, at least once: ORDER_CHANGE for each order change (order_change.py) and
TRANSACTION_UPDATE for each transaction posted (transaction_update.py).

Every event's delay and fate (delivered, lost, duplicated, late) is a function of the seed, the subject and the
event (publishing.py), so a run can be replayed and a test can know what was lost. Publishing follows the
emulator's clock: when a test moves it forward, what fell due meanwhile is sent at the next tick.
"""

from __future__ import annotations

import bisect
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from amazon_orders_pipeline.emulator.errors import ApiError, invalid, json_object
from amazon_orders_pipeline.emulator.order_change import OrderChanges, lost_changes
from amazon_orders_pipeline.emulator.orders import OrderHistory
from amazon_orders_pipeline.emulator.publishing import Delivery, NotificationFaults, Published
from amazon_orders_pipeline.emulator.state import EmulatorState
from amazon_orders_pipeline.emulator.transaction_update import TransactionUpdates

NOTIFICATIONS_PATH = "/notifications/v1"

SQS_ARN_PREFIX = "arn:aws:sqs:"
TICK_S = 0.2


@dataclass
class Subscription:
    subscription_id: str
    seller: str
    notification_type: str
    destination_id: str
    processing_directive: dict
    since: datetime  # changes published after this are sent
    published_until: datetime

    def api(self) -> dict:
        out = {"subscriptionId": self.subscription_id, "payloadVersion": "1.0", "destinationId": self.destination_id}
        if self.processing_directive is not None:
            out["processingDirective"] = self.processing_directive
        return out


class Notifications:
    def __init__(self, state: EmulatorState, sqs_endpoint: str | None = None, ledger=None):
        self.state = state
        # The types it publishes; TRANSACTION_UPDATE needs the seller's ledger (finances.py).
        kinds = [OrderChanges(state)] + ([TransactionUpdates(state, ledger)] if ledger is not None else [])
        self.kinds = {k.name: k for k in kinds}
        self.sqs_endpoint = sqs_endpoint
        self.faults = NotificationFaults()
        self.published = Published()
        self._destinations: dict[str, dict] = {}
        self._subscriptions: dict[tuple[str, str], Subscription] = {}
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._sqs = None
        self._queue_urls: dict[str, str] = {}
        self._schedules: dict[tuple, list[Delivery]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- destinations (grantless) -------------------------------------------------------------
    def create_destination(self, raw: bytes) -> tuple[int, dict]:
        body = json_object(raw)
        name, spec = body.get("name"), body.get("resourceSpecification")
        if not isinstance(name, str) or not name or len(name) > 256 or not isinstance(spec, dict):
            raise invalid("name and resourceSpecification are required")
        sqs = spec.get("sqs")
        if set(spec) - {"sqs", "eventBridge"} or not isinstance(sqs, dict):
            raise invalid("resourceSpecification must name an sqs resource")
        arn = sqs.get("arn")
        if not isinstance(arn, str) or not arn.startswith(SQS_ARN_PREFIX) or len(arn.split(":")) != 6:
            raise invalid("sqs.arn must match ^arn:aws:sqs:\\S+:\\S+:\\S+")
        with self._lock:
            if any(d["resource"]["sqs"]["arn"] == arn for d in self._destinations.values()):
                raise ApiError(409, "Conflict", "A destination with this resource already exists.")
            destination = {"destinationId": str(uuid.uuid4()), "name": name, "resource": {"sqs": {"arn": arn}}}
            self._destinations[destination["destinationId"]] = destination
        return 200, {"payload": destination}

    def get_destinations(self) -> tuple[int, dict]:
        with self._lock:
            return 200, {"payload": list(self._destinations.values())}

    def get_destination(self, destination_id: str) -> tuple[int, dict]:
        with self._lock:
            destination = self._destinations.get(destination_id)
        if destination is None:
            raise ApiError(404, "NotFound", f"Destination {destination_id} was not found.")
        return 200, {"payload": destination}

    def delete_destination(self, destination_id: str) -> tuple[int, dict]:
        with self._lock:
            if self._destinations.pop(destination_id, None) is None:
                raise ApiError(404, "NotFound", f"Destination {destination_id} was not found.")
        return 200, {}

    # --- subscriptions (the seller's token) ---------------------------------------------------
    def create_subscription(self, seller: str, notification_type: str, raw: bytes) -> tuple[int, dict]:
        kind = self.kinds.get(notification_type)
        if kind is None:
            raise invalid(f"the emulator publishes {', '.join(sorted(self.kinds))} only, not {notification_type}")
        body = json_object(raw)
        if body.get("payloadVersion") != "1.0":
            raise invalid("payloadVersion must be 1.0")
        directive = body.get("processingDirective")
        kind.check_directive(directive)
        with self._lock:
            if body.get("destinationId") not in self._destinations:
                raise invalid(f"destinationId {body.get('destinationId')!r} is not a destination")
            if (seller, notification_type) in self._subscriptions:
                raise ApiError(409, "Conflict", "A subscription for this notification type already exists.")
            now = self.state.clock.now()
            subscription = Subscription(str(uuid.uuid4()), seller, notification_type, body["destinationId"],
                                        directive, now, now)
            self._subscriptions[(seller, notification_type)] = subscription
        return 200, {"payload": subscription.api()}

    def get_subscription(self, seller: str, notification_type: str) -> tuple[int, dict]:
        with self._lock:
            subscription = self._subscriptions.get((seller, notification_type))
        if subscription is None:
            raise ApiError(404, "NotFound", f"No {notification_type} subscription was found.")
        return 200, {"payload": subscription.api()}

    def delete_subscription(self, seller: str, notification_type: str, subscription_id: str) -> tuple[int, dict]:
        with self._lock:
            found = self._subscriptions.get((seller, notification_type))
            if found is None or found.subscription_id != subscription_id:
                raise ApiError(404, "NotFound", f"Subscription {subscription_id} was not found.")
            del self._subscriptions[(seller, notification_type)]
        return 200, {}

    # --- publishing ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notification-publisher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.publish_due()
            except Exception as e:  # noqa: BLE001 - a publisher that dies silently would look like lost messages
                self.state.stats["notifications.publish_errors"] += 1
                self.state.stats[f"notifications.last_error:{type(e).__name__}"] += 1

    def lost(self, history: OrderHistory) -> list[datetime]:
        """The changes of an order whose ORDER_CHANGE notification is lost."""
        return lost_changes(self.state.seller.seed, self.faults, history)

    def _schedule(self, kind, seller: str, day: date) -> list[Delivery]:
        """Every message of one type for the events of one day's subjects (the orders created, the transactions
        posted), by publish time (cached per fault mix, so a tick looks up what fell due instead of recomputing)."""
        key = (kind.name, seller, day, json.dumps(self.faults.to_dict(), sort_keys=True))
        cached = self._schedules.get(key)
        if cached is None:
            cached = sorted(kind.of_day(seller, day, self.faults), key=lambda d: (d.at, d.key))
            self._schedules[key] = cached
            while len(self._schedules) > 256:
                self._schedules.pop(next(iter(self._schedules)))
        return cached

    def publish_due(self) -> int:
        """Send every message whose publish time has come on the emulator's clock. Returns how many were sent."""
        with self._publish_lock:
            now = self.state.clock.now()
            sent = 0
            with self._lock:
                subscriptions = list(self._subscriptions.values())
            longest = self.faults.longest()
            for sub in subscriptions:
                kind = self.kinds[sub.notification_type]
                if now <= sub.published_until or not self.state.has_region(sub.seller):
                    # A seller's region is known from its first Orders request; its notifications wait for it.
                    continue
                start, end = max(sub.published_until, sub.since), now
                due = []
                day = (start - longest - kind.lookback).date()
                while day <= end.date():
                    schedule = self._schedule(kind, sub.seller, day)
                    low = bisect.bisect_right(schedule, (start, "\uffff"), key=lambda d: (d.at, d.key))
                    for delivery in schedule[low:]:
                        if delivery.at > end:
                            break
                        if delivery.changed_at >= sub.since and kind.visible(sub.seller, delivery):
                            due.append(delivery)
                    day += timedelta(days=1)
                due.sort(key=lambda d: (d.at, d.key))
                for delivery in due:
                    self._send(sub, kind, delivery)
                    sent += 1
                sub.published_until = end
            return sent

    def _send(self, sub: Subscription, kind, delivery: Delivery) -> None:
        with self._lock:
            destination = self._destinations.get(sub.destination_id)
        if destination is None:
            return
        arn = destination["resource"]["sqs"]["arn"]
        body = kind.payload(delivery, sub.seller, sub.subscription_id)
        self._queue(arn).send_message(QueueUrl=self._queue_urls[arn], MessageBody=json.dumps(body))
        self.state.stats["notifications.sent"] += 1
        self.published.sent.append({"type": kind.name, "order_id": getattr(delivery.subject, "order_id", None),
                                    "key": delivery.key, "changed_at": delivery.changed_at,
                                    "publish_time": delivery.at, "notification_id": delivery.notification_id,
                                    "copy": delivery.copy})

    def _queue(self, arn: str):
        if self._sqs is None:
            import boto3

            region = arn.split(":")[3]
            self._sqs = boto3.client("sqs", endpoint_url=self.sqs_endpoint, region_name=region,
                                     aws_access_key_id="emulator", aws_secret_access_key="emulator")
        if arn not in self._queue_urls:
            _, _, _, _, account, name = arn.split(":")
            self._queue_urls[arn] = self._sqs.get_queue_url(QueueName=name,
                                                            QueueOwnerAWSAccountId=account)["QueueUrl"]
        return self._sqs
