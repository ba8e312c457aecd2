"""The returns reports' windows, landed verbatim, one *read* per (account, report type, run): every window of the
read asked for first (so Amazon processes them side by side), then each waited for and downloaded in turn, as the
order reports are (extract/order_reports.py). A run made again carries on with its own read: a window whose report
was asked for is polled again by its id, a landed one is not downloaded again. A later run is a new read: a window
read again finds the rows Amazon added since (the FBA report's rows come days after their return-date).

- `GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA` is selected by return-date (the fulfilment centre's processing);
  windows of up to 30 days (Amazon documents no limit; the order reports' 30 are taken);
- `GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE` is selected by the request date, at most 60 days a report (Amazon
  answers FATAL over it), so longer spans are split at 60 days; a window without a return ends CANCELLED, which is
  an empty window, not a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from amazon_orders_pipeline.extract.order_reports import FATAL_RETRY_S, SETTLE, ReportStore, ask, fetch_window
from amazon_orders_pipeline.sp_api.reports import FBA_RETURNS, MFN_RETURNS, ReportsClient
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

PREFIX = "return_reports"
REPORT_TYPES = (FBA_RETURNS, MFN_RETURNS)
# What the daily schedule re-reads, by report date, ending yesterday. The FBA report's rows come after their
# return-date (up to a day and a half in the emulator; Amazon back-fills older periods, and a public connector
# re-reads 7 and 35 days back), and an MFN return's status, delivery and refunded amount change for weeks after its
# request date. 60 days is Amazon's longest MFN request, so a day is one MFN report and two FBA reports (30 + 30)
# per account: 3 createReport calls against the operation's quota of one a minute (about 1,440 a day), 0.2% of it.
TRAILING_DAYS = 60
SHORT_NAMES = {FBA_RETURNS: "fba", MFN_RETURNS: "mfn"}
MAX_WINDOW = {FBA_RETURNS: timedelta(days=30), MFN_RETURNS: timedelta(days=60)}


@dataclass(frozen=True)
class LandedWindow:
    window: tuple[datetime, datetime]
    status: str  # DONE or CANCELLED
    report_id: str
    document_key: str | None
    charset: str | None
    fetched_at: str


@dataclass(frozen=True)
class ReturnsRead:
    account_id: str
    report_type: str
    read_id: str
    windows: list[LandedWindow]


def return_windows(report_type: str, first: date, last: date, now: datetime) -> list[tuple[datetime, datetime]]:
    """[first, last] in windows of at most the report's longest, the last ending at least an hour before now."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = min(datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1),
              (now - SETTLE).replace(microsecond=0))
    windows = []
    while start < end:
        windows.append((start, min(start + MAX_WINDOW[report_type], end)))
        start = windows[-1][1]
    return windows


def read_store(landing: ObjectStore, account_id: str, report_type: str, read_id: str) -> ReportStore:
    return ReportStore(landing, account_id, prefix=f"{PREFIX}/{SHORT_NAMES[report_type]}/read={read_id}")


def _done_key(store: ReportStore) -> str:
    return f"{store.prefix}/DONE.json"


def land_returns(reports: ReportsClient, landing: ObjectStore, *, account_id: str, report_type: str, first: date,
                 last: date, marketplace_ids: list[str] | tuple[str, ...], read_id: str,
                 now: datetime | None = None, sleep: Callable[[float], None] = time.sleep,
                 fatal_retry_s: float = FATAL_RETRY_S) -> ReturnsRead:
    """Land every window of [first, last] of one returns report under `read_id`, then mark the read done."""
    store = read_store(landing, account_id, report_type, read_id)
    if (done := finished(landing, account_id, report_type, read_id)) is not None:
        return done
    windows = return_windows(report_type, first, last, now or datetime.now(UTC))
    states = {w: store.state(w) or {} for w in windows}
    for window, state in states.items():
        if not state.get("report_id"):
            states[window] = ask(reports, store, window, report_type, marketplace_ids)
    landed = []
    for window in windows:
        state = states[window]
        if state.get("status") not in ("DONE", "CANCELLED"):
            outcome, state = fetch_window(reports, store, window, state, report_type, marketplace_ids,
                                          sleep=sleep, fatal_retry_s=fatal_retry_s)
            key = charset = None
            if outcome.document is not None:
                key = store.land(window, outcome.report_id, outcome.document.content)
                charset = outcome.document.charset
            state = {**state, "report_id": outcome.report_id, "status": outcome.status, "document": key,
                     "charset": charset, "fetched_at": datetime.now(UTC).isoformat()}
            store.save(window, state)
        landed.append(LandedWindow(window, state["status"], state["report_id"], state.get("document"),
                                   state.get("charset"), state["fetched_at"]))
    put_json(landing, _done_key(store), {"windows": [
        {"window": [w.window[0].isoformat(), w.window[1].isoformat()], "status": w.status,
         "report_id": w.report_id, "document": w.document_key, "charset": w.charset, "fetched_at": w.fetched_at}
        for w in landed]})
    return ReturnsRead(account_id, report_type, read_id, landed)


def finished(landing: ObjectStore, account_id: str, report_type: str, read_id: str) -> ReturnsRead | None:
    """A read that landed every window, or None."""
    done = get_json(landing, _done_key(read_store(landing, account_id, report_type, read_id)))
    if done is None:
        return None
    return ReturnsRead(account_id, report_type, read_id, [
        LandedWindow((datetime.fromisoformat(w["window"][0]), datetime.fromisoformat(w["window"][1])), w["status"],
                     w["report_id"], w["document"], w["charset"], w["fetched_at"]) for w in done["windows"]])


def batch_reads(landing: ObjectStore, account_id: str, report_type: str, batch: str) -> list[ReturnsRead]:
    """The finished reads of an account whose id is under `batch/` (a run's batch: its reads of each span)."""
    base = f"{PREFIX}/{SHORT_NAMES[report_type]}/read="
    suffix = f"/account={account_id}/DONE.json"
    ids = sorted(k[len(base):-len(suffix)] for k in landing.keys(f"{base}{batch}/") if k.endswith(suffix))
    return [read for i in ids if (read := finished(landing, account_id, report_type, i)) is not None]
