"""Order tracking reports as the way in for history: 30-day windows through the Reports API, each document landed
verbatim and resumable (a report asked for is polled again by id, a landed document is not downloaded again), and
its rows grouped per order into the daily partitions of their last update, as raw records of `api_version` report."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from amazon_orders_pipeline.extract.landing import ExtractError
from amazon_orders_pipeline.sp_api.reports import BY_LAST_UPDATE, Outcome, ReportError, ReportsClient
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

REPORT_API_VERSION = "report"
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
# A backfill of at least this many days of an account goes through reports (when the account's history_source says
# so); fewer go page by page. A report costs minutes of Amazon's processing, which a few days of a small seller's
# pages do not; the daily schedule's runs (one day each) always go page by page.
REPORTS_FROM_DAYS = 4
FATAL_RETRIES = 2
FATAL_RETRY_S = 1800.0  # Airbyte's wait before asking again after a FATAL; Amazon's cooldowns are ~30 min

log = logging.getLogger(__name__)
# One document parsed at a time per process: a 30-day document of a large seller takes most of a GB as Python
# objects, and accounts extracted in threads would otherwise parse side by side (the GIL gains nothing from it).
_PARSING = threading.Lock()


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
    records: dict[str, str] | None = None  # the document's order records by day (ISO date -> landing key)


@dataclass
class HistoryResult:
    account_id: str
    reports: list[LandedReport] = field(default_factory=list)

    @property
    def cancelled(self) -> int:
        return sum(r.status == "CANCELLED" for r in self.reports)


class ReportStore:
    """The landing area of one account's report windows: per window a STATE.json (the report asked for, then what
    became of it) and the document as downloaded (decompressed, in its own charset). `prefix`: the order reports'
    area by default; the returns reports have their own (returns/landing.py)."""

    def __init__(self, landing: ObjectStore, account_id: str, prefix: str = "order_reports"):
        self.landing, self.account_id, self.prefix = landing, account_id, f"{prefix}/account={account_id}"

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

    def land_records(self, window: tuple[datetime, datetime], report_id: str,
                     texts_by_day: dict[date, list[str]]) -> dict[str, str]:
        """A document's order records, one JSON text a line, a file per day: what the load step inserts."""
        keys = {}
        for day, texts in sorted(texts_by_day.items()):
            keys[day.isoformat()] = key = f"{self._window(window)}/records-{report_id}/date={day.isoformat()}.jsonl"
            self.landing.put(key, "\n".join(texts).encode())
        return keys

    def read_records(self, key: str) -> list[str]:
        body = self.landing.get(key)
        if body is None:
            raise ExtractError(f"landing object {key} is missing")
        return body.decode().split("\n") if body else []

    def _range(self, first: date, last: date) -> str:
        return f"{self.prefix}/range={first:%Y%m%d}_{last:%Y%m%d}.json"

    def save_range(self, first: date, last: date, result: HistoryResult, report_days: list[date]) -> None:
        """What a run landed for the days [first, last], for its load step (which may be re-executed later)."""
        put_json(self.landing, self._range(first, last), {
            "report_days": [d.isoformat() for d in report_days],
            "reports": [{"window": [w.isoformat() for w in r.window], "status": r.status, "report_id": r.report_id,
                         "document": r.document_key, "charset": r.charset, "records": r.records}
                        for r in result.reports]})

    def forget_range(self, first: date, last: date) -> None:
        """A run of these days that goes page by page: an earlier run's reports are no longer what loads them."""
        if get_json(self.landing, self._range(first, last)) is not None:
            put_json(self.landing, self._range(first, last), {"report_days": [], "reports": []})

    def landed_range(self, first: date, last: date) -> tuple[list[LandedReport], list[date]] | None:
        doc = get_json(self.landing, self._range(first, last))
        if doc is None:
            return None
        reports = [LandedReport((datetime.fromisoformat(r["window"][0]), datetime.fromisoformat(r["window"][1])),
                                r["status"], r["report_id"], r["document"], r["charset"], downloaded=False,
                                records=r.get("records"))
                   for r in doc["reports"]]
        return reports, [date.fromisoformat(d) for d in doc["report_days"]]

    def read(self, report: LandedReport) -> str:
        body = self.landing.get(report.document_key or "")
        if body is None:
            raise ExtractError(f"landing object {report.document_key} is missing")
        return body.decode(report.charset or "utf-8")


@dataclass(frozen=True)
class HistoryPlan:
    """How a run gets an account's days: `report_days` from order reports over [first, last] of them, the rest
    (`api_days`) page by page. A day a report window does not cover whole (the hour before now) goes page by page."""

    report_days: list[date]
    api_days: list[date]

    @property
    def span(self) -> tuple[date, date] | None:
        return (self.report_days[0], self.report_days[-1]) if self.report_days else None


def plan_history(days: list[date], *, source: str, now: datetime, recheck: bool = False) -> HistoryPlan:
    """`recheck`: a late re-check of closed days (the lookback), which goes through reports however few the days
    are, so that it spends none of searchOrders' quota."""
    days = sorted(set(days))
    least = 1 if recheck else REPORTS_FROM_DAYS
    if source != "reports" or len(days) < least:
        return HistoryPlan([], days)
    windows = report_windows(days[0], days[-1], now)
    covered = windows[-1][1] if windows else datetime.min.replace(tzinfo=UTC)
    whole = [d for d in days if datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1) <= covered]
    if len(whole) < least:
        return HistoryPlan([], days)
    return HistoryPlan(whole, [d for d in days if d not in whole])


def extract_history(reports: ReportsClient, landing: ObjectStore, *, account_id: str, first: date, last: date,
                    marketplace_ids: list[str] | tuple[str, ...], now: datetime | None = None,
                    sleep: Callable[[float], None] = time.sleep, fatal_retry_s: float = FATAL_RETRY_S,
                    report_type: str = BY_LAST_UPDATE, pii: bool = False) -> HistoryResult:
    """Land the documents of every report window of [first, last]. Every window's report is asked for first (a year
    is 13 requests, inside createReport's burst of 15), so Amazon processes them side by side; then each is waited
    for and downloaded in turn. A window already landed is not asked for again; one whose report was asked for by a
    run that died is polled again by its id. FATAL is asked again after a wait, a bounded number of times, then
    fails naming the account and window. Each document's rows are grouped into order records (PII columns dropped
    unless `pii`) and landed by day as soon as it has landed, while the next report still processes."""
    now = now or datetime.now(UTC)
    store = ReportStore(landing, account_id)
    windows = report_windows(first, last, now)
    states = {window: store.state(window) or {} for window in windows}
    for window, state in states.items():
        if not state.get("report_id"):
            states[window] = ask(reports, store, window, report_type, marketplace_ids)
    result = HistoryResult(account_id)
    for window in windows:
        state = states[window]
        if state.get("status") in ("DONE", "CANCELLED"):
            result.reports.append(LandedReport(window, state["status"], state["report_id"], state.get("document"),
                                               state.get("charset"), downloaded=False, records=state.get("records")))
            continue
        outcome, state = fetch_window(reports, store, window, state, report_type, marketplace_ids,
                                      sleep=sleep, fatal_retry_s=fatal_retry_s)
        key = charset = records = None
        if outcome.document is not None:
            key = store.land(window, outcome.report_id, outcome.document.content)
            charset = outcome.document.charset
            with _PARSING:
                records = store.land_records(window, outcome.report_id, record_texts(report_records(
                    outcome.document.content.decode(charset), pii=pii, fallback_day=window[0].date())))
        store.save(window, {**state, "status": outcome.status, "document": key, "charset": charset,
                            "records": records})
        result.reports.append(LandedReport(window, outcome.status, outcome.report_id, key, charset, downloaded=True,
                                           records=records))
    return result


def fetch_window(reports: ReportsClient, store: ReportStore, window: tuple[datetime, datetime], state: dict,
                 report_type: str, marketplace_ids: list[str] | tuple[str, ...], *,
                 sleep: Callable[[float], None] = time.sleep, fatal_retry_s: float = FATAL_RETRY_S
                 ) -> tuple[Outcome, dict]:
    """Wait for the window's report (asked for in `state`) and download its document: (outcome, the state of the
    report it came from). FATAL is asked again after a wait, a bounded number of times, then fails naming the
    account and window."""
    fatal = 0
    while True:
        try:
            return reports.fetch(report_type, marketplace_ids, *window, report_id=state["report_id"]), state
        except ReportError as e:
            fatal += 1
            if e.status != "FATAL" or fatal > FATAL_RETRIES:
                raise ExtractError(f"{store.account_id}: report window [{window[0]:%Y-%m-%d %H:%M}, "
                                   f"{window[1]:%Y-%m-%d %H:%M}) failed: {e}") from None
            log.warning("%s: report %s ended FATAL (%s); asking again in %.0f s", store.account_id,
                        state["report_id"], e, fatal_retry_s)
            sleep(fatal_retry_s)
            state = ask(reports, store, window, report_type, marketplace_ids)


def ask(reports: ReportsClient, store: ReportStore, window: tuple[datetime, datetime], report_type: str,
        marketplace_ids: list[str] | tuple[str, ...]) -> dict:
    """Ask for a window's report and record its id before anything else happens, so a killed run polls it again."""
    state = {"report_id": reports.create(report_type, marketplace_ids, *window), "status": "REQUESTED",
             "report_type": report_type}
    store.save(window, state)
    return state


def window_records(store: ReportStore, reports: list[LandedReport], days: list[date], *, pii: bool
                   ) -> Iterator[tuple[list[date], Callable[[date], list[str]]]]:
    """Per landed report, the `days` its window covers and a reader of one day's order records (JSON texts), so
    that a day at a time is in memory. An order whose last update falls on none of `days` is left out (its day was
    not asked for). A report landed without its records (by an older release) has its document parsed here."""
    wanted = set(days)
    for report in reports:
        start, end = report.window
        covered = [d for d in sorted(wanted) if start <= datetime(d.year, d.month, d.day, tzinfo=UTC) < end]
        if not covered:
            continue
        if report.records is not None:
            keys = report.records
            yield covered, lambda day, keys=keys: store.read_records(keys[day.isoformat()]) \
                if day.isoformat() in keys else []
        else:
            parsed = {} if report.document_key is None else record_texts(
                report_records(store.read(report), pii=pii, fallback_day=covered[0]))
            yield covered, lambda day, parsed=parsed: parsed.get(day, [])


def record_texts(by_day: dict[date, list[dict]]) -> dict[date, list[str]]:
    """Order records as compact JSON texts, each serialized once (the raw page is made of the same texts)."""
    return {day: [json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in records]
            for day, records in by_day.items()}


def _sum(values: list[str | None]) -> str:
    present = [v for v in values if v]
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
    rows = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows, [])
    index = {c: i for i, c in enumerate(header)}
    order_columns = [(c, index[c]) for c in ORDER_COLUMNS if c in index]
    line_columns = [(c, index[c]) for c in LINE_COLUMNS if c in index]
    summed = [(c, index[c]) for c in SUMMED if c in index]
    order_id_at, updated_at, item_id_at = (index.get(c) for c in ("amazon-order-id", "last-updated-date",
                                                                   "order-item-id"))
    sku_at, title_at = index.get("sku"), index.get("product-name")
    width = len(header)
    orders: dict[str, dict] = {}
    for row in rows:
        if len(row) < width:  # a short row: its missing columns are absent values, as a DictReader gives them
            row = row + [None] * (width - len(row))
        order_id = (row[order_id_at] if order_id_at is not None else None) or ""
        record = orders.get(order_id)
        if record is None:
            record = orders[order_id] = {c: row[i] for c, i in order_columns}
            record["lines"] = {}
        elif updated_at is not None and (row[updated_at] or "") > (record.get("last-updated-date") or ""):
            record["last-updated-date"] = row[updated_at]
        key = (row[item_id_at] if item_id_at is not None else None) or \
            f"{row[sku_at] if sku_at is not None else None}\t{row[title_at] if title_at is not None else None}"
        line = record["lines"].get(key)
        if line is None:
            record["lines"][key] = {c: row[i] for c, i in line_columns}
        else:
            for c, i in summed:
                line[c] = _sum([line[c], row[i]])
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
