"""Reading a posted day's transactions (Finances v2024-06-19) and landing its pages verbatim: one *read* per (account,
posted day, run), each page a file, and a `done.json` once the whole day is landed. Every read is kept: a read
made later is a later version of the same transactions (a deferred one released, a late one now listed), and the
warehouse keeps them all (finances/raw.py). A read that did not finish (a killed run, a lapsed token) is dropped
and made again: the day is small (a few pages), and a nextToken does not outlive five minutes anyway. No Dagster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from amazon_orders_pipeline.sp_api import finances
from amazon_orders_pipeline.sp_api.http import SpApiClient
from amazon_orders_pipeline.sp_api.pages import Page
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

PREFIX = "transactions"
# Amazon's transactions are listable about 48 hours after their postedDate.
LISTING_LAG = timedelta(hours=48)
MIN_LAG = timedelta(minutes=2)
# How many days old a posted day is when the daily schedule reads it, and why:
# - 3: the first read, once its last transaction is past the 48-hour lag (most are listed by then);
# - 7: transactions listed late (days after the lag: about 3% in the emulator) and late postings;
# - 14: DD7 deferrals released (seven days after delivery, itself days after shipping);
# - 35: B2B deferrals released (30-day invoice terms) and the last late corrections.
# At listTransactions' 0.5 requests a second, four reads of a day of 5,000 orders (about 12 pages of 500 each)
# take about 100 seconds of quota: the quota is not what limits this.
READ_AGES = (3, 7, 14, 35)


class TransactionsError(RuntimeError):
    """A day's read that failed; the message names the account, the day and the page."""


@dataclass(frozen=True)
class DayRead:
    """One finished read of a posted day."""

    account_id: str
    day: date
    read_id: str
    pages: int
    transactions: int
    passes: int  # 1, or more when a lapsed nextToken made the day be read again
    window_end: str  # where the window ended: the day's end, or two minutes before the call when it was not over


def _stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TransactionStore:
    """The landed reads of one (account, posted day)."""

    def __init__(self, store: ObjectStore, account_id: str, day: date):
        self.store, self.account_id, self.day = store, account_id, day
        self.prefix = f"{PREFIX}/{account_id}/{day.isoformat()}"

    def page_key(self, read_id: str, number: int) -> str:
        return f"{self.prefix}/{read_id}/page-{number:05d}.json"

    def land(self, read_id: str, page: Page) -> None:
        """The page as received, with what was sent (the nextToken included; never credentials)."""
        put_json(self.store, self.page_key(read_id, page.number), {
            "params": page.params, "request_id": page.request_id, "fetched_at": _stamp(page.fetched_at),
            "body": page.body.decode("utf-8")})

    def finish(self, read: DayRead, batch: str | None = None, orders: list[str] | None = None) -> None:
        put_json(self.store, f"{self.prefix}/{read.read_id}/done.json", {
            "pages": read.pages, "transactions": read.transactions, "passes": read.passes,
            "window_end": read.window_end, "batch": batch, **({"orders": orders} if orders is not None else {})})

    def discard(self, read_id: str) -> None:
        for key in self.store.keys(f"{self.prefix}/{read_id}/"):
            self.store.delete(key)

    def read_ids(self) -> list[str]:
        """Every read of the day, finished or not, oldest first (read ids start with their time)."""
        return sorted({key[len(self.prefix) + 1:].split("/", 1)[0] for key in self.store.keys(self.prefix + "/")})

    def done(self, read_id: str) -> dict | None:
        return get_json(self.store, f"{self.prefix}/{read_id}/done.json")

    def pages(self, read_id: str) -> Iterator[tuple[str, dict]]:
        """A finished read's landed pages, in order, each with its key, one at a time."""
        for key in sorted(k for k in self.store.keys(f"{self.prefix}/{read_id}/") if "/page-" in k):
            yield key, json.loads(self.store.get(key))

    def mark_loaded(self, read_id: str) -> None:
        put_json(self.store, f"{self.prefix}/{read_id}/loaded.json", {"loaded": True})

    def loaded(self, read_id: str) -> bool:
        return get_json(self.store, f"{self.prefix}/{read_id}/loaded.json") is not None


def day_window(day: date, now: datetime) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = min(start + timedelta(days=1), (now - MIN_LAG).replace(microsecond=0))
    if end <= start:
        raise TransactionsError(f"posted day {day} has not begun two minutes ago; nothing can be read yet")
    return start, end


def read_day(client: SpApiClient, store: ObjectStore, account_id: str, marketplace_ids: list[str] | tuple[str, ...],
             day: date, read_id: str, batch: str | None = None) -> DayRead:
    """Land every page of the day's posted window under `read_id`, each of the account's marketplaces in turn (the
    pages numbered on across them), then mark it done. Reads left unfinished by an earlier run are dropped first.

    One listing per marketplace, because an account is configured with its marketplaces and its orders are read
    for those alone. Amazon's model says US merchant-fulfilled orders come back only when no marketplaceId is
    sent; docs/money.md says what that means."""
    start, end = day_window(day, client.now())
    listings = [finances.window_params(start, end, marketplace_id) for marketplace_id in marketplace_ids]
    return _read(client, TransactionStore(store, account_id, day), read_id, listings, finances.iso(end), batch)


def read_orders(client: SpApiClient, store: ObjectStore, account_id: str, day: date, order_ids: list[str],
                read_id: str, batch: str | None = None) -> DayRead:
    """Every transaction of each order (listTransactions by ORDER_ID, whatever their dates), landed as one read of
    the posted day a TRANSACTION_UPDATE named. The warehouse files each transaction under its own posted day
    (finances/raw.py), so a read of an order is one more version of its transactions wherever they were posted."""
    listings = [finances.order_params(order_id) for order_id in order_ids]
    return _read(client, TransactionStore(store, account_id, day), read_id, listings, finances.iso(client.now()),
                 batch, sorted(order_ids))


def _read(client: SpApiClient, landing: TransactionStore, read_id: str, listings: list[dict[str, str]],
          window_end: str, batch: str | None, orders: list[str] | None = None) -> DayRead:
    """Land every page of the listings under `read_id`, numbered on across them, then mark it done. Reads left
    unfinished by an earlier run are dropped first; a lapsed nextToken starts the read again."""
    account_id, day = landing.account_id, landing.day
    for stale in landing.read_ids():
        if landing.done(stale) is None:
            landing.discard(stale)
    for passes in range(1, finances.MAX_PASSES + 1):
        landing.discard(read_id)
        count = pages = 0
        try:
            for params in listings:
                for page in finances.pages(client, params, pages + 1):
                    found = finances.transactions_of(page)
                    if found is None:
                        raise TransactionsError(
                            f"{account_id} posted day {day}: page {page.number} of listTransactions has no "
                            f"payload.transactions list (request id {page.request_id})")
                    landing.land(read_id, page)
                    count, pages = count + len(found), pages + 1
        except finances.TokenExpired:
            continue
        read = DayRead(account_id, day, read_id, pages, count, passes, window_end)
        landing.finish(read, batch, orders)
        return read
    raise TransactionsError(f"{account_id} posted day {day}: the nextToken lapsed in {finances.MAX_PASSES} passes "
                            "in a row (throttling keeps the listing slower than five minutes a page)")


def finished_in_batch(store: ObjectStore, account_id: str, day: date, batch: str) -> DayRead | None:
    """The read of a day that a batch of runs (a backfill, a run and its re-executions) already finished."""
    landing = TransactionStore(store, account_id, day)
    for read_id in reversed(landing.read_ids()):
        done = landing.done(read_id)
        if done is not None and done.get("batch") == batch:
            return DayRead(account_id, day, read_id, done["pages"], done["transactions"], done["passes"],
                           done["window_end"])
    return None


def new_read_id(now: datetime, run_id: str) -> str:
    """A read's id: when it started, then the run that made it (so the ids sort by time)."""
    return f"{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S')}-{run_id[:8]}"
