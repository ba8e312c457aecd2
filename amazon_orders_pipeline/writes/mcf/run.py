"""One MCF pass, as the `fba_fulfillment_orders` asset runs it:

1. take in the inbox: each new file's orders and cancellations recorded in one transaction, then the file moves to
   `processed/`;
2. preview each received order (getFulfillmentPreview): one that cannot be fulfilled is `refused`, never sent;
3. create the others exactly once: `submitting` is recorded before createFulfillmentOrder, and after an unclear
   outcome (a timeout, a 5xx, a dropped connection, a run killed mid-call) the order is read at Amazon before it is
   ever sent again;
4. cancel what the shop cancelled, while Amazon still allows it (Received or Planning), and say so when it is late;
5. track the open orders (getFulfillmentOrder): status, shipments, packages, carrier and tracking numbers, and
   write what changed as a file for the shop.

DuckDB is held only between Amazon's calls."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb

from amazon_orders_pipeline.accounts import Account
from amazon_orders_pipeline.sp_api.fulfillment_outbound import CANCELLABLE, TERMINAL, FulfillmentOutbound
from amazon_orders_pipeline.sp_api.http import SpApiError, UnclearOutcome
from amazon_orders_pipeline.stores import ObjectStore
from amazon_orders_pipeline.writes.inbox import Log, PassOutcome, take_inbox
from amazon_orders_pipeline.writes.ledger import record
from amazon_orders_pipeline.writes.mcf import ledger
from amazon_orders_pipeline.writes.mcf.config import McfConfig
from amazon_orders_pipeline.writes.mcf.files import CANCELLATION, StorefrontRequest, parse_orders

MAX_CREATE_ATTEMPTS = 3
TRACKING_PREFIX = "mcf-tracking"


@dataclass
class Outcome(PassOutcome):
    refused: list[dict] = field(default_factory=list)
    submitted: int = 0
    read_back: int = 0
    failed: list[dict] = field(default_factory=list)
    cancelled: int = 0
    too_late: list[dict] = field(default_factory=list)
    tracked: int = 0
    changed: list[dict] = field(default_factory=list)
    tracking_file: str | None = None
    stuck: list[dict] = field(default_factory=list)
    invalid_at_amazon: list[dict] = field(default_factory=list)
    open_orders: int = 0


@dataclass
class McfRun:
    inbox: ObjectStore
    exports: ObjectStore
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
    outbound: Callable[[Account], FulfillmentOutbound]
    account: Account
    marketplace_id: str
    config: McfConfig
    log: Log
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    retention: timedelta = timedelta(days=90)  # closed orders older than this are pruned from the ledger

    def run(self) -> Outcome:
        out = Outcome()
        with self.connect() as conn:
            ledger.ensure(conn)
        api = self.outbound(self.account)
        self.take_inbox(out)
        self.submit(api, out)
        self.cancel(api, out)
        self.track(api, out)
        with self.connect() as conn:
            out.pruned = ledger.prune(conn, self.now() - self.retention)
        return out

    # --- 1. the inbox -----------------------------------------------------------------------------
    def take_inbox(self, out: Outcome) -> None:
        def take_file(conn, key: str, sha: str, content: bytes) -> dict[str, int]:
            requests, lines = parse_orders(content)
            settled = self._record(conn, key, sha, requests, lines)
            counts = {"accepted": 0, "duplicate": 0, "invalid": 0}
            for outcome, _ in settled.values():
                counts[outcome] += 1
            return counts

        take_inbox(self.inbox, self.connect, ledger.SCHEMA, take_file, out, self.log)

    def _record(self, conn, key: str, sha: str, requests: list[StorefrontRequest], lines) -> dict:
        now = self.now()
        settled: dict[int, tuple[str, str | None]] = {line.line_number: (line.outcome, line.reason) for line in lines}
        conn.execute("begin")
        try:
            for request in requests:
                known = conn.execute("select status, request_body from mcf.fulfillment_orders where shop_order_id = ?",
                                     [request.shop_order_id]).fetchone()
                if request.kind == CANCELLATION:
                    if known is None:
                        settled[request.line_number] = ("invalid", f"unknown storefront order {request.shop_order_id}")
                    elif known[0] in ("cancelled", "cancel_requested", "refused", "failed"):
                        settled[request.line_number] = ("duplicate", f"the order is {known[0]}")
                    else:
                        conn.execute("update mcf.fulfillment_orders set status = 'cancel_requested', updated_at = ? "
                                     "where shop_order_id = ?", [now, request.shop_order_id])
                    continue
                body = self._body(request)
                if known is not None:
                    same = json.loads(known[1]) == body
                    settled[request.line_number] = ("duplicate", f"already received; it is {known[0]}") if same \
                        else ("invalid", f"order {request.shop_order_id} was received before with other contents")
                    continue
                conn.execute(
                    "insert into mcf.fulfillment_orders (shop_order_id, seller_fulfillment_order_id, account_id, "
                    "marketplace_id, request_body, status, source_file, received_at, updated_at) "
                    "values (?, ?, ?, ?, ?, 'received', ?, ?, ?)",
                    [request.shop_order_id, request.seller_fulfillment_order_id, self.account.id, self.marketplace_id,
                     json.dumps(body), key, now, now])
            record(conn, ledger.SCHEMA, key, sha, [
                (line.line_number, *settled[line.line_number], line.request_id) for line in lines], now)
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        return settled

    def _body(self, request: StorefrontRequest) -> dict:
        """createFulfillmentOrder's body: money as decimal strings, as the model requires."""
        sfo_id = request.seller_fulfillment_order_id
        body = {"sellerFulfillmentOrderId": sfo_id, "displayableOrderId": sfo_id,
                "displayableOrderDate": (request.created_at or self.now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "displayableOrderComment": self.config.displayable_order_comment,
                "shippingSpeedCategory": self.config.speed(request.shipping_method),
                "marketplaceId": self.marketplace_id, "destinationAddress": request.address,
                "fulfillmentAction": "Ship", "fulfillmentPolicy": self.config.fulfillment_policy,
                "items": [{"sellerSku": self.config.seller_sku(line.sku), "sellerFulfillmentOrderItemId": str(n),
                           "quantity": line.quantity,
                           "perUnitDeclaredValue": {"currencyCode": line.currency,
                                                    "value": str(line.gross.quantize(Decimal("0.01")))}}
                          for n, line in enumerate(request.cart, start=1)]}
        if request.email and len(request.email) <= 64:
            body["notificationEmails"] = [request.email]
        return body

    # --- 2 and 3. preview, create -----------------------------------------------------------------
    def submit(self, api: FulfillmentOutbound, out: Outcome) -> None:
        with self.connect() as conn:
            pending = ledger.rows(conn, "statuses", ("received", "submitting"))
        for order in pending:
            sfo_id, body = order["seller_fulfillment_order_id"], json.loads(order["request_body"])
            if order["status"] == "received" and self.config.preview:
                try:
                    reasons = api.preview(body)
                except SpApiError as e:
                    if e.status in (401, 403):
                        raise
                    if e.status != 400:  # Amazon did not answer in time: the next pass previews it again
                        self.log.warning(f"{sfo_id}: getFulfillmentPreview failed ({e}); tried again next pass")
                        continue
                    reasons = [f"Amazon refused the preview: {e}"]
                if reasons:
                    self._set(order, status="refused", error="; ".join(reasons))
                    out.refused.append({"order": order["shop_order_id"], "reason": "; ".join(reasons)})
                    continue
            state = api.get(sfo_id) if order["status"] == "submitting" else None
            if state is not None:  # a run before this one sent it and died before recording so
                self._set(order, status="submitted", submitted_at=self.now(), amazon_status=state.status)
                out.submitted += 1
                out.read_back += 1
                continue
            self._create(api, order, sfo_id, body, out)

    def _create(self, api: FulfillmentOutbound, order: dict, sfo_id: str, body: dict, out: Outcome) -> None:
        attempts = order["attempts"]
        for _ in range(MAX_CREATE_ATTEMPTS):
            attempts += 1
            self._set(order, status="submitting", attempts=attempts)
            try:
                api.create(body)
            except UnclearOutcome:
                state = api.get(sfo_id)
                if state is None:
                    continue  # Amazon has none: sending again cannot make a second
                self._set(order, status="submitted", submitted_at=self.now(), amazon_status=state.status)
                out.submitted += 1
                out.read_back += 1
                return
            except SpApiError as e:
                if e.status in (401, 403):
                    raise
                # A refusal; but if Amazon has this id already (a create that took effect earlier), it is sent.
                state = api.get(sfo_id) if e.status == 400 else None
                if state is not None:
                    self._set(order, status="submitted", submitted_at=self.now(), amazon_status=state.status)
                    out.submitted += 1
                    out.read_back += 1
                    return
                self._set(order, status="failed", error=str(e))
                out.failed.append({"order": order["shop_order_id"], "reason": str(e)})
                return
            self._set(order, status="submitted", submitted_at=self.now(), amazon_status="Received")
            out.submitted += 1
            return
        self.log.warning(f"{sfo_id}: createFulfillmentOrder stayed unclear and Amazon has no such order; "
                         "the next run sends it again")

    # --- 4. cancel --------------------------------------------------------------------------------
    def cancel(self, api: FulfillmentOutbound, out: Outcome) -> None:
        with self.connect() as conn:
            wanted = ledger.rows(conn, "status", "cancel_requested")
        for order in wanted:
            sfo_id = order["seller_fulfillment_order_id"]
            state = api.get(sfo_id)
            if state is None:  # never reached Amazon: nothing to cancel there
                self._set(order, status="cancelled", error=None)
                out.cancelled += 1
                continue
            if state.status == "Cancelled":
                self._set(order, status="cancelled", amazon_status=state.status)
                out.cancelled += 1
                continue
            if state.status not in CANCELLABLE:
                reason = f"Amazon has it {state.status}: too late to cancel; a return is the way now"
                self._set(order, status="too_late", amazon_status=state.status, error=reason)
                out.too_late.append({"order": order["shop_order_id"], "reason": reason})
                continue
            try:
                api.cancel(sfo_id)
            except SpApiError as e:
                if e.status in (401, 403):
                    raise
                after = api.get(sfo_id)
                if after is not None and after.status == "Cancelled":
                    self._set(order, status="cancelled", amazon_status=after.status)
                    out.cancelled += 1
                else:
                    reason = f"cancelFulfillmentOrder refused: {e}"
                    self._set(order, status="too_late", error=reason,
                              amazon_status=after.status if after else None)
                    out.too_late.append({"order": order["shop_order_id"], "reason": reason})
                continue
            self._set(order, status="cancelled", amazon_status="Cancelled")
            out.cancelled += 1

    # --- 5. tracking ------------------------------------------------------------------------------
    def track(self, api: FulfillmentOutbound, out: Outcome) -> None:
        with self.connect() as conn:
            open_orders = ledger.rows(conn, "open_at_amazon", TERMINAL)
        now = self.now()
        for order in open_orders:
            state = api.get(order["seller_fulfillment_order_id"])
            out.tracked += 1
            if state is None:
                continue
            packages = [(p.package_number, p.carrier_code, p.tracking_number, p.shipment_status, p.shipping_date,
                         p.estimated_arrival) for p in state.packages]
            with self.connect() as conn:
                before = conn.execute(
                    "select list(tracking_number order by package_number) from mcf.fulfillment_packages "
                    "where seller_fulfillment_order_id = ?", [order["seller_fulfillment_order_id"]]).fetchone()[0]
                conn.execute("begin")
                conn.execute("delete from mcf.fulfillment_packages where seller_fulfillment_order_id = ?",
                             [order["seller_fulfillment_order_id"]])
                for p in packages:
                    conn.execute("insert into mcf.fulfillment_packages values (?, ?, ?, ?, ?, ?, ?)",
                                 [order["seller_fulfillment_order_id"], *p])
                conn.execute("commit")
                ledger.update(conn, [(order["shop_order_id"], {
                    "amazon_status": state.status, "status_updated_at": state.status_updated, "polled_at": now})],
                    now)
            if state.status != order["amazon_status"] or [p[2] for p in packages] != (before or []):
                out.changed.append({"shop_order_id": order["shop_order_id"],
                                    "seller_fulfillment_order_id": order["seller_fulfillment_order_id"],
                                    "status": state.status, "status_updated": state.status_updated,
                                    "packages": [{"carrier_code": p[1], "tracking_number": p[2], "shipment": p[3]}
                                                 for p in packages]})
        if out.changed:
            name = f"{TRACKING_PREFIX}/{self.account.id}/{now.strftime('%Y%m%dT%H%M%S%fZ')}.jsonl"
            self.exports.put(name, "".join(json.dumps(c, sort_keys=True) + "\n" for c in out.changed).encode())
            out.tracking_file = name
        with self.connect() as conn:
            cutoff = now - timedelta(hours=self.config.stuck_after_hours)
            out.stuck = [{"order": r["shop_order_id"], "status": r["amazon_status"],
                          "since": str(r["status_updated_at"] or r["submitted_at"])}
                         for r in ledger.rows(conn, "stuck_since", ("Received", "Planning"), cutoff)]
            out.invalid_at_amazon = [{"order": r["shop_order_id"], "status": r["amazon_status"]}
                                     for r in ledger.rows(conn, "amazon_statuses", ("Invalid", "Unfulfillable"))]
            out.open_orders = conn.execute(
                "select count(*) from mcf.fulfillment_orders where status in ('received', 'submitting', "
                "'cancel_requested') or (status = 'submitted' and (amazon_status is null or amazon_status not in "
                "(select unnest(?::varchar[]))))", [list(TERMINAL)]).fetchone()[0]

    def _set(self, order: dict, **values) -> None:
        with self.connect() as conn:
            ledger.update(conn, [(order["shop_order_id"], values)], self.now())
        order.update(values)
