"""One write-back pass, as the `mfn_writeback` asset runs it:

1. take in the inbox: each new file's lines and requests are recorded in one transaction, then the file moves to
   `processed/` (a file recorded but not moved is recognised by its hash and only moved);
2. guard the received requests against the marts (guard.py);
3. send the shipments with confirmShipment (a package's id is derived from its order and tracking number, so a
   resend edits it);
4. put each account's cancellations in one order acknowledgement feed; a feed whose createFeed outcome is unclear,
   or whose run died while submitting it, is looked for with getFeeds before another is made;
5. follow the open feeds to their processing reports, for a while;
6. close the loop: a shipment is `confirmed` once the marts show its package with its tracking number
   (order_packages), a cancellation once they show the order cancelled.

DuckDB is held only between Amazon's calls, never during them, so the loads and dbt are not kept waiting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.sp_api.feeds import CLOCK_SLACK, FeedError, FeedsClient
from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.orders_v0 import OrdersV0
from amazon_orders_pipeline.stores import ObjectStore
from amazon_orders_pipeline.writes.inbox import Log, PassOutcome, take_inbox
from amazon_orders_pipeline.writes.mfn import ack_feed, guard, ledger
from amazon_orders_pipeline.writes.mfn.config import Carriers
from amazon_orders_pipeline.writes.mfn.files import CANCELLATION, SHIPMENT, parse_file

# Amazon's answers that refuse a request for good: it is `failed` with Amazon's message, not sent again.
FINAL_STATUSES = (400, 404)
FLUSH_EVERY = 20
MAX_FEED_MESSAGES = 10_000
# The requests the marts now show as done. A shipment: its package arrived in order_packages with the tracking
# number the ERP sent. Orders read through v0 or the order reports carry no packages (Amazon gives them in v2026
# only): there the order's status is the best the marts can say.
LOOP_CLOSED_SQL = """
select r.request_id
from writeback.requests r
join main.orders o on o.account_id = r.account_id and o.order_id = r.order_id
where (r.status = 'sent' and exists (
          select 1 from main.order_packages p
          where p.account_id = r.account_id and p.order_id = r.order_id
            and p.tracking_number = (r.details ->> 'tracking_number')))
   or (r.status = 'sent' and o.api_version in ('v0', 'report') and o.order_status in ('SHIPPED', 'PARTIALLY_SHIPPED'))
   or (r.status = 'accepted' and o.order_status = 'CANCELLED')
"""


@dataclass
class Outcome(PassOutcome):
    refused: list[dict] = field(default_factory=list)
    sent: int = 0
    failed: list[dict] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    feeds_read_back: int = 0
    accepted: int = 0
    rejected: list[dict] = field(default_factory=list)
    confirmed: int = 0
    overdue: list[dict] = field(default_factory=list)
    open_requests: int = 0


@dataclass
class Writeback:
    inbox: ObjectStore
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
    client_for: Callable[[Account], SpApiClient]
    accounts: dict[str, Account]
    carriers: Carriers
    log: Log
    now: Callable[[], datetime]
    confirm_within: timedelta = timedelta(hours=2)
    feed_wait_s: float = 300.0
    retention: timedelta = timedelta(days=90)  # closed requests older than this are pruned from the ledger
    sleep: Callable[[float], None] = time.sleep
    merchant_ids: dict[str, str] = field(default_factory=dict)  # account -> MerchantIdentifier for feeds
    _clients: dict[str, SpApiClient] = field(default_factory=dict)

    def run(self) -> Outcome:
        out = Outcome()
        with self.connect() as conn:
            ledger.ensure(conn)
        self.take_inbox(out)
        self.guard(out)
        self.send_shipments(out)
        for account_id in self._accounts_with(("queued", "submitting")):
            self.submit_cancellations(account_id, out)
        self.follow_feeds(out)
        self.close_loop(out)
        with self.connect() as conn:
            out.pruned = ledger.prune(conn, self.now() - self.retention)
        return out

    # --- 1. the inbox -----------------------------------------------------------------------------
    def take_inbox(self, out: Outcome) -> None:
        def take_file(conn, key: str, sha: str, content: bytes) -> dict[str, int]:
            parsed = parse_file(key, content, self.carriers, self.now())
            return ledger.take_file(conn, key, sha, parsed.requests, parsed.lines, self.now())

        take_inbox(self.inbox, self.connect, ledger.SCHEMA, take_file, out, self.log)

    # --- 2. the guard -----------------------------------------------------------------------------
    def guard(self, out: Outcome) -> None:
        now = self.now()
        with self.connect() as conn:
            received = ledger.rows(conn, "status", "received")
            changes = []
            for decision, request in zip(guard.decide(conn, received), received, strict=True):
                if decision.refused:
                    changes.append((decision.request_id, {"status": "refused", "reason": decision.refused,
                                                          "account_id": decision.account_id, "closed_at": now}))
                    out.refused.append({"request": decision.request_id, "reason": decision.refused})
                elif decision.account_id not in self.accounts:
                    reason = f"account {decision.account_id} is not in the accounts file"
                    changes.append((decision.request_id, {"status": "refused", "reason": reason, "closed_at": now}))
                    out.refused.append({"request": decision.request_id, "reason": reason})
                else:
                    status = "sending" if request["kind"] == SHIPMENT else "queued"
                    changes.append((decision.request_id, {"status": status, "account_id": decision.account_id,
                                                          "marketplace_id": decision.marketplace_id,
                                                          "request_body": decision.body}))
            ledger.update(conn, changes, now)
        for refused in out.refused:
            self.log.warning(f"refused {refused['request']}: {refused['reason']}")

    # --- 3. shipments -----------------------------------------------------------------------------
    def send_shipments(self, out: Outcome) -> None:
        with self.connect() as conn:
            pending = ledger.rows(conn, "status", "sending")
        changes: list[tuple[str, dict]] = []
        try:
            for request in pending:
                client = self._client(request["account_id"])
                attempts = request["attempts"] + 1
                try:
                    OrdersV0(client).confirm_shipment(request["order_id"], json.loads(request["request_body"]))
                except SpApiError as e:
                    if e.status in FINAL_STATUSES:
                        changes.append((request["request_id"], {"status": "failed", "reason": str(e),
                                                                "attempts": attempts, "closed_at": self.now()}))
                        out.failed.append({"request": request["request_id"], "reason": str(e)})
                    elif e.status in (401, 403):
                        raise
                    else:  # still unclear after the client's retries: the next run sends it again (an edit)
                        changes.append((request["request_id"], {"attempts": attempts, "reason": f"will retry: {e}"}))
                else:
                    changes.append((request["request_id"], {"status": "sent", "sent_at": self.now(),
                                                            "attempts": attempts, "reason": None}))
                    out.sent += 1
                if len(changes) >= FLUSH_EVERY:
                    self._flush(changes)
        finally:
            self._flush(changes)

    # --- 4. cancellations -------------------------------------------------------------------------
    def submit_cancellations(self, account_id: str, out: Outcome) -> None:
        feeds = FeedsClient(self._client(account_id), sleep=self.sleep)
        with self.connect() as conn:
            submitting = ledger.rows(conn, "account_status", account_id, "submitting")
        if submitting:
            known = self._known_feeds()
            # A run died between recording the document and recording the feed: did createFeed happen?
            started = min(r["submit_started_at"] for r in submitting)
            found = [f for f in feeds.find(ack_feed.FEED_TYPE, started - CLOCK_SLACK) if f["feedId"] not in known]
            with self.connect() as conn:
                if found:
                    feed_id = found[-1]["feedId"]  # the oldest since then: the one that run made
                    ledger.update(conn, [(r["request_id"], {"status": "in_feed", "feed_id": feed_id,
                                                            "sent_at": self.now()}) for r in submitting], self.now())
                    out.feeds.append(feed_id)
                    out.feeds_read_back += 1
                else:
                    ledger.update(conn, [(r["request_id"], {"status": "queued", "feed_document_id": None})
                                         for r in submitting], self.now())
        with self.connect() as conn:
            queued = ledger.rows(conn, "account_status", account_id, "queued")[:MAX_FEED_MESSAGES]
        if not queued:
            return
        cancellations, bodies = [], {}
        for n, request in enumerate(queued, start=1):
            body = json.loads(request["request_body"])
            details = json.loads(request["details"])
            cancellations.append(ack_feed.Cancellation(n, request["order_id"], body["items"], details["reason"]))
            bodies[request["request_id"]] = {**body, "message_id": n}
        account = self.accounts[account_id]
        content = ack_feed.document(self.merchant_ids.get(account_id, account.seller_id or account_id), cancellations)
        try:
            document_id = feeds.upload(content, ack_feed.CONTENT_TYPE)
        except (FeedError, SpApiError) as e:
            self.log.warning(f"{account_id}: the cancellation feed could not be uploaded ({e}); the next run tries "
                             "again")
            return
        # On Amazon's clock (its Date header), which getFeeds' createdSince compares with.
        started = feeds.client.now()
        with self.connect() as conn:
            ledger.update(conn, [(r["request_id"], {"status": "submitting", "feed_document_id": document_id,
                                                    "submit_started_at": started,
                                                    "request_body": bodies[r["request_id"]]}) for r in queued],
                          self.now())
        marketplaces = sorted({r["marketplace_id"] for r in queued})
        try:
            submitted = feeds.submit(ack_feed.FEED_TYPE, marketplaces, document_id, started, self._known_feeds())
        except (FeedError, SpApiError) as e:
            self.log.warning(f"{account_id}: createFeed failed ({e}); the next run looks for it, then tries again")
            return
        with self.connect() as conn:
            ledger.update(conn, [(r["request_id"], {"status": "in_feed", "feed_id": submitted.feed_id,
                                                    "sent_at": self.now()}) for r in queued], self.now())
        out.feeds.append(submitted.feed_id)
        out.feeds_read_back += submitted.read_back
        self.log.info(f"{account_id}: {len(queued)} cancellation(s) in feed {submitted.feed_id}")

    # --- 5. feeds ---------------------------------------------------------------------------------
    def follow_feeds(self, out: Outcome) -> None:
        with self.connect() as conn:
            open_feeds = conn.execute("select distinct account_id, feed_id from writeback.requests "
                                      "where status = 'in_feed' order by 2").fetchall()
        deadline, pause = time.monotonic() + self.feed_wait_s, 2.0
        waiting = list(open_feeds)
        while waiting:
            still = []
            for account_id, feed_id in waiting:
                feeds = FeedsClient(self._client(account_id), sleep=self.sleep)
                feed = feeds.get(feed_id)
                status = feed.get("processingStatus")
                if status in ("IN_QUEUE", "IN_PROGRESS"):
                    still.append((account_id, feed_id))
                    continue
                self._settle_feed(feeds, feed_id, feed, out)
            waiting = still
            if not waiting or time.monotonic() + pause > deadline:
                break
            self.sleep(pause)
            pause = min(pause * 2, 30.0)
        for account_id, feed_id in waiting:
            self.log.info(f"{account_id}: feed {feed_id} is still processing; the next run reads its report")

    def _settle_feed(self, feeds: FeedsClient, feed_id: str, feed: dict, out: Outcome) -> None:
        status = feed.get("processingStatus")
        report, fatal = None, None
        if feed.get("resultFeedDocumentId"):
            try:
                report = ack_feed.read_report(feeds.result(feed["resultFeedDocumentId"]))
                fatal = report.fatal
            except ack_feed.UnreadableReport as e:
                fatal = str(e)
        now = self.now()
        with self.connect() as conn:
            members = ledger.rows(conn, "feed_status", feed_id, "in_feed")
            changes = []
            for request in members:
                message_id = json.loads(request["request_body"])["message_id"]
                if status != "DONE" or report is None or fatal:
                    reason = f"feed {feed_id} ended {status}" + (f": {fatal}" if fatal else "")
                    changes.append((request["request_id"], {"status": "failed", "reason": reason, "closed_at": now}))
                    out.failed.append({"request": request["request_id"], "reason": reason})
                elif message_id in report.errors:
                    reason = report.errors[message_id]
                    changes.append((request["request_id"], {"status": "rejected", "reason": reason,
                                                            "closed_at": now}))
                    out.rejected.append({"request": request["request_id"], "reason": reason})
                else:
                    changes.append((request["request_id"], {"status": "accepted"}))
                    out.accepted += 1
            ledger.update(conn, changes, now)

    # --- 6. the loop ------------------------------------------------------------------------------
    def close_loop(self, out: Outcome) -> None:
        now = self.now()
        with self.connect() as conn:
            if guard.marts_ready(conn):
                done = conn.execute(LOOP_CLOSED_SQL).fetchall()
                ledger.update(conn, [(r[0], {"status": "confirmed", "closed_at": now}) for r in done], now)
                out.confirmed += len(done)
            out.overdue = [{"request": r["request_id"], "status": r["status"], "since": str(r["sent_at"])}
                           for r in ledger.rows(conn, "awaiting_since", ledger.AWAITING_MARTS,
                                                now - self.confirm_within)]
            out.open_requests = conn.execute(
                "select count(*) from writeback.requests where status in (select unnest(?::varchar[]))",
                [[*ledger.OPEN, *ledger.AWAITING_MARTS]]).fetchone()[0]

    # --- helpers ----------------------------------------------------------------------------------
    def _client(self, account_id: str) -> SpApiClient:
        if account_id not in self._clients:
            self._clients[account_id] = self.client_for(self.accounts[account_id])
        return self._clients[account_id]

    def _known_feeds(self) -> set[str]:
        with self.connect() as conn:
            return {r[0] for r in conn.execute(
                "select distinct feed_id from writeback.requests where feed_id is not null").fetchall()}

    def _accounts_with(self, statuses: tuple[str, ...]) -> list[str]:
        with self.connect() as conn:
            return [r[0] for r in conn.execute(
                "select distinct account_id from writeback.requests where kind = ? and status in "
                "(select unnest(?::varchar[])) order by 1", [CANCELLATION, list(statuses)]).fetchall()]

    def _flush(self, changes: list[tuple[str, dict]]) -> None:
        if changes:
            with self.connect() as conn:
                ledger.update(conn, changes, self.now())
            changes.clear()
