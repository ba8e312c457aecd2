"""TRANSACTION_UPDATE as Amazon publishes it (TransactionUpdateNotification.json): one message per transaction
posted to a seller's account, when it posts, in PascalCase, naming the order as `OrderId` and carrying no
transactionId, status, items or breakdowns. A release of deferred money is no new posting and sends none (Amazon
documents the notification for new transactions). The transaction itself is listable only about 48 hours later."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from amazon_orders_pipeline.emulator.money import Posting
from amazon_orders_pipeline.emulator.publishing import (
    APPLICATION_ID,
    Delivery,
    NotificationFaults,
    deliveries,
    iso_ms,
    selling_partner_id,
)

TRANSACTION_UPDATE = "TRANSACTION_UPDATE"
# Seeds the draws of these messages apart from an order's ORDER_CHANGE ones.
KIND = "transaction:"


class TransactionUpdates:
    """TRANSACTION_UPDATE for the publisher (notifications.py), over the seller's ledger (finances.py)."""

    name = TRANSACTION_UPDATE
    lookback = timedelta(0)  # a transaction's message follows its posting, on the day it posts

    def __init__(self, state, ledger) -> None:
        self.state, self.ledger = state, ledger

    def check_directive(self, directive: object) -> None:
        """Amazon takes no processing directive for this type; one sent is ignored."""

    def of_day(self, seller: str, day: date, faults: NotificationFaults) -> list[Delivery]:
        start = datetime.combine(day, time(), UTC)
        seed = self.state.seller.seed
        return [d for p in self.ledger.posted_in(seller, start, start + timedelta(days=1))
                for d in deliveries(seed, faults, p.transaction_id, p, p.posted_at, p.transaction_type, KIND)]

    def visible(self, seller: str, delivery: Delivery) -> bool:
        return self.state.in_region(seller, delivery.subject)

    def payload(self, delivery: Delivery, seller: str, subscription_id: str) -> dict:
        return transaction_update(delivery, seller, subscription_id)


def transaction_update(delivery: Delivery, seller: str, subscription_id: str) -> dict:
    p: Posting = delivery.subject
    note: dict = {
        "SellingPartnerMetadata": {"SellingPartnerId": selling_partner_id(seller), "MarketplaceId": p.marketplace_id,
                                   "AccountType": "PAYABLE"},
        "TransactionType": p.transaction_type,
        "PostedDate": iso_ms(p.posted_at),
        "TotalAmount": {"CurrencyAmount": float(p.total), "CurrencyCode": p.currency},
    }
    if p.order_id:
        # Amazon's example spells the name OrderId (listTransactions says ORDER_ID).
        note["RelatedIdentifiers"] = [{"RelatedIdentifierName": "OrderId", "RelatedIdentifierValue": p.order_id}]
    return {
        "NotificationVersion": "1.0",
        "NotificationType": TRANSACTION_UPDATE,
        "PayloadVersion": "1.0",
        "EventTime": iso_ms(delivery.at),
        "Payload": {"TransactionUpdateNotification": note},
        "NotificationMetadata": {
            "ApplicationId": APPLICATION_ID,
            "SubscriptionId": subscription_id,
            "PublishTime": iso_ms(delivery.at),
            "NotificationId": delivery.notification_id,
        },
    }
