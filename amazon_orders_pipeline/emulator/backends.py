"""The emulated APIs' backends, built once over the shared state: what each API keeps beyond the seller's orders."""

from __future__ import annotations

from dataclasses import dataclass

from amazon_orders_pipeline.emulator.feeds import DEFAULT_FEED_PROCESSING_S, Feeds
from amazon_orders_pipeline.emulator.finances import Ledger
from amazon_orders_pipeline.emulator.fulfillment import Fulfillment
from amazon_orders_pipeline.emulator.merchant import Merchant
from amazon_orders_pipeline.emulator.notifications import Notifications
from amazon_orders_pipeline.emulator.reports import DEFAULT_PROCESSING_S, Reports
from amazon_orders_pipeline.emulator.settlements import Settlements
from amazon_orders_pipeline.emulator.state import EmulatorState


@dataclass(frozen=True)
class Backends:
    merchant: Merchant  # the seller's own shipments and cancellations (confirmShipment, the order feeds)
    reports: Reports
    feeds: Feeds
    fulfillment: Fulfillment  # Multi-Channel Fulfillment orders
    notifications: Notifications
    finances: Ledger  # the seller's money after the sale (listTransactions)
    settlements: Settlements  # its settlement reports, served through `reports`

    @classmethod
    def build(cls, state: EmulatorState, *, report_processing_s: float = DEFAULT_PROCESSING_S,
              report_workers: int = 0, sqs_endpoint: str | None = None,
              feed_processing_s: float = DEFAULT_FEED_PROCESSING_S) -> Backends:
        merchant, ledger = Merchant(state), Ledger(state)
        reports = Reports(state, report_processing_s, workers=report_workers)
        settlements = Settlements(state, ledger)
        reports.generated.append(settlements)
        return cls(merchant=merchant, reports=reports, feeds=Feeds(state, merchant, feed_processing_s),
                   fulfillment=Fulfillment(state), notifications=Notifications(state, sqs_endpoint, ledger),
                   finances=ledger,
                   settlements=settlements)

    def start(self) -> None:
        self.notifications.start()

    def close(self) -> None:
        self.reports.close()
        self.notifications.close()
