"""Order tracking reports as the way in for history: 30-day windows through the Reports API, each document landed
verbatim and resumable (a report asked for is polled again by id, a landed document is not downloaded again), and
its rows grouped per order into the daily partitions of their last update, as raw records of `api_version` report."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from amazon_orders_pipeline.extract.landing import ExtractError
from amazon_orders_pipeline.sp_api.reports import BY_LAST_UPDATE, ReportError, ReportsClient
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

REPORT_API_VERSION = "report"
REPORT_OPERATION = "orderReport"
MAX_WINDOW = timedelta(days=30)
# A report window ends at least an hour before now: changes reach the tracking reports with a lag (users of 30-minute
# scheduled reports find orders missing), and the daily searchOrders windows cover the last hours anyway.
SETTLE = timedelta(hours=1)
# Columns that are PII (DESIGN decision 9): dropped before a record is written unless the account has PII on.
PII_COLUMNS = ("ship-postal-code", "cpf", "purchase-order-number")
ORDER_COLUMNS = ("amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
                 "fulfillment-channel", "sales-channel", "ship-service-level", "ship-city", "ship-state",
                 "ship-postal-code", "ship-country", "is-business-order", "purchase-order-number", "cpf")
LINE_COLUMNS = ("order-item-id", "sku", "asin", "product-name", "item-status", "quantity", "currency", "item-price",
                "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price", "gift-wrap-tax",
                "item-promotion-discount", "ship-promotion-discount", "promotion-ids")
SUMMED = ("quantity", "item-price", "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price", "gift-wrap-tax",
          "item-promotion-discount", "ship-promotion-discount")
FATAL_RETRIES = 2
FATAL_RETRY_S = 1800.0  # Airbyte's wait before asking again after a FATAL; Amazon's cooldowns are ~30 min

log = logging.getLogger(__name__)


def report_windows(first: date, last: date, now: datetime) -> list[tuple[datetime, datetime]]:
    """[first, last] in windows of at most 30 days, the last one ending at least an hour before now."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = min(datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1),
              (now - SETTLE).replace(microsecond=0))
    windows = []
    while start < end:
        windows.append((start, min(start + MAX_WINDOW, end)))
        start = windows[-1][1]
    return windows


@dataclass(frozen=True)
class LandedReport:
    window: tuple[datetime, datetime]
    status: str  # DONE or CANCELLED
    report_id: str
    document_key: str | None
    charset: str | None
    downloaded: bool  # False when an earlier run had landed it


@dataclass
class HistoryResult:
    account_id: str
    reports: list[LandedReport] = field(default_factory=list)

    @property
    def cancelled(self) -> int:
        return sum(r.status == "CANCELLED" for r in self.reports)


class ReportStore:
    """The landing area of one account's report windows: per window a STATE.json (the report asked for, then what
    became of it) and the document as downloaded (decompressed, in its own charset)."""

    def __init__(self, landing: ObjectStore, account_id: str):
        self.landing, self.prefix = landing, f"order_reports/account={account_id}"

    def _window(self, window: tuple[datetime, datetime]) -> str:
        return f"{self.prefix}/window={window[0]:%Y%m%dT%H%M%S}_{window[1]:%Y%m%dT%H%M%S}"

    def state(self, window: tuple[datetime, datetime]) -> dict | None:
        return get_json(self.landing, f"{self._window(window)}/STATE.json")

    def save(self, window: tuple[datetime, datetime], state: dict) -> None:
        put_json(self.landing, f"{self._window(window)}/STATE.json", state)

    def land(self, window: tuple[datetime, datetime], report_id: str, content: bytes) -> str:
        key = f"{self._window(window)}/report-{report_id}.tsv"
        self.landing.put(key, content)
        return key

    def read(self, report: LandedReport) -> str:
        body = self.landing.get(report.document_key or "")
        if body is None:
            raise ExtractError(f"landing object {report.document_key} is missing")
        return body.decode(report.charset or "utf-8")


def extract_history(reports: ReportsClient, landing: ObjectStore, *, account_id: str, first: date, last: date,
                    marketplace_ids: list[str] | tuple[str, ...], now: datetime | None = None,
                    sleep: Callable[[float], None] = time.sleep, fatal_retry_s: float = FATAL_RETRY_S,
                    report_type: str = BY_LAST_UPDATE) -> HistoryResult:
    """Land the documents of every report window of [first, last]. A window already landed is not asked for again;
    one whose report was asked for by a run that died is polled again by its id. FATAL is asked again after a wait,
    a bounded number of times, then fails naming the account and window."""
    now = now or datetime.now(UTC)
    store = ReportStore(landing, account_id)
    result = HistoryResult(account_id)
    for window in report_windows(first, last, now):
        state = store.state(window) or {}
        if state.get("status") in ("DONE", "CANCELLED"):
            result.reports.append(LandedReport(window, state["status"], state["report_id"], state.get("document"),
                                               state.get("charset"), downloaded=False))
            continue
        fatal = 0
        while True:
            if not state.get("report_id"):
                state = {"report_id": reports.create(report_type, marketplace_ids, *window), "status": "REQUESTED",
                         "report_type": report_type}
                store.save(window, state)
            try:
                outcome = reports.fetch(report_type, marketplace_ids, *window, report_id=state["report_id"])
            except ReportError as e:
                fatal += 1
                if e.status != "FATAL" or fatal > FATAL_RETRIES:
                    raise ExtractError(f"{account_id}: report window [{window[0]:%Y-%m-%d %H:%M}, "
                                       f"{window[1]:%Y-%m-%d %H:%M}) failed: {e}") from None
                log.warning("%s: report %s ended FATAL (%s); asking again in %.0f s", account_id,
                            state["report_id"], e, fatal_retry_s)
                sleep(fatal_retry_s)
                state = {}
                continue
            break
        key = charset = None
        if outcome.document is not None:
            key = store.land(window, outcome.report_id, outcome.document.content)
            charset = outcome.document.charset
        store.save(window, {**state, "status": outcome.status, "document": key, "charset": charset})
        result.reports.append(LandedReport(window, outcome.status, outcome.report_id, key, charset, downloaded=True))
    return result


def _sum(values: list[str]) -> str:
    present = [v for v in values if v != ""]
    if not present:
        return ""
    try:
        return str(sum(Decimal(v) for v in present))
    except InvalidOperation:
        return present[0]  # not a number: kept as it is, for staging to quarantine with its reason


def report_records(text: str, *, pii: bool, fallback_day: date) -> dict[date, list[dict]]:
    """A document's rows as one record per order, by the day of its `last-updated-date`. Columns are read by name
    (headers vary); a line split over rows (shipped from two fulfilment centres) becomes one line again, keyed by
    `order-item-id` where the header has it, else by SKU and title (two lines of one SKU in an order then merge);
    PII columns are dropped unless `pii`. An order whose last update cannot be read is kept under `fallback_day` (the
    report window's first day), for staging to quarantine with its reason, never dropped."""
    orders: dict[str, dict] = {}
    for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
        order_id = row.get("amazon-order-id") or ""
        record = orders.setdefault(order_id, {**{c: row.get(c) for c in ORDER_COLUMNS if c in row}, "lines": {}})
        if (row.get("last-updated-date") or "") > (record.get("last-updated-date") or ""):
            record["last-updated-date"] = row["last-updated-date"]
        key = row.get("order-item-id") or f"{row.get('sku')}\t{row.get('product-name')}"
        line = record["lines"].get(key)
        if line is None:
            record["lines"][key] = {c: row.get(c, "") for c in LINE_COLUMNS if c in row}
        else:
            for c in SUMMED:
                if c in line:
                    line[c] = _sum([line[c], row.get(c, "")])
    by_day: dict[date, list[dict]] = {}
    for record in orders.values():
        record["lines"] = list(record["lines"].values())
        if not pii:
            for c in PII_COLUMNS:
                record.pop(c, None)
        try:
            day = datetime.fromisoformat(record.get("last-updated-date") or "").astimezone(UTC).date()
        except ValueError:
            day = fallback_day
        by_day.setdefault(day, []).append(record)
    return by_day
