"""The synthetic seller's money after the sale: every transaction Amazon posts for its orders (emulator/money.py) and
the fees it charges without an order, as listTransactions shows them as of a moment.

What the emulator decides, and why:
- a transaction becomes listable about 48 hours after its postedDate (Amazon: "might not include orders from the
  last 48 hours"); 3% take two to five days more, so only a later re-read finds them;
- a deferred transaction is listed as DEFERRED with its DeferredContext, and as DEFERRED_RELEASED once its maturity
  date has passed: the same transactionId, a new state (fact 27 of the notes);
- money is released to a settlement group (FINANCIAL_EVENT_GROUP_ID, SETTLEMENT_ID) per seller and currency every
  14 days, by the day it became payable; a deferred transaction has no group until it is released;
- without an order: the monthly subscription (the 1st), storage (the 7th), inbound placement fees (Mondays) and
  now and then an inventory reimbursement, per marketplace;
- shape noise: a released status spelled `Released` or null, leaf breakdowns `[]`, null or absent.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from amazon_orders_pipeline.emulator import money
from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.money import Leaf, Posting
from amazon_orders_pipeline.emulator.orders import MAX_ORDER_LIFETIME, OrderHistory
from amazon_orders_pipeline.emulator.publishing import selling_partner_id
from amazon_orders_pipeline.emulator.values import iso

LISTING_LAG = timedelta(hours=48)
LATE_SHARE = 0.03
# How long after creation an order's last transaction can post: shipping, then a refund or a B2B release.
MONEY_LIFETIME = MAX_ORDER_LIFETIME + timedelta(days=31)
SETTLEMENT_DAYS = 14
SETTLEMENT_EPOCH = date(2020, 1, 6)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(map(str, parts)).encode()).digest()


def transaction_id(*parts: object) -> str:
    return _digest("transaction", *parts).hex()[:32].upper()


def settlement_group(seller: str, currency: str, day: date) -> tuple[str, str, date, date]:
    """(FINANCIAL_EVENT_GROUP_ID, SETTLEMENT_ID, first day, last day) of the 14-day group a day's money is in."""
    period = (day - SETTLEMENT_EPOCH).days // SETTLEMENT_DAYS
    start = SETTLEMENT_EPOCH + timedelta(days=period * SETTLEMENT_DAYS)
    digest = _digest("settlement", seller, currency, period)
    return (digest.hex()[:43], str(10_000_000_000 + int.from_bytes(digest[:5], "big") % 89_999_999_999), start,
            start + timedelta(days=SETTLEMENT_DAYS - 1))


def _listable(rng: random.Random, posted: datetime) -> datetime:
    late = timedelta(hours=rng.randrange(48, 120)) if rng.random() < LATE_SHARE else timedelta(0)
    return posted + LISTING_LAG + timedelta(seconds=rng.randrange(7200)) + late


def order_postings(history: OrderHistory) -> list[Posting]:
    """An order's transactions: its shipments (two for an order that shipped in part first), a refund for some,
    deferred money for others. None for a cancelled order, nor for a Multi-Channel Fulfillment order (its fees are
    service fees)."""
    shipped = [(t, s) for t, s in history.events if s in ("PARTIALLY_SHIPPED", "SHIPPED")]
    if history.sales_channel != "AMAZON" or not shipped or shipped[-1][1] != "SHIPPED":
        return []
    if history.packages:
        shipped = [(max(p.shipped_at for p in history.packages), "SHIPPED")]
    rng = random.Random(_digest("money", history.order_id))
    network = "AFN" if history.fulfilled_by == "AMAZON" else "MFN"
    mkt, s = history.marketplace_id, history.sections
    lines = list(enumerate(history.lines))
    splits = [lines[:1], lines[1:]] if len(shipped) == 2 else [lines]
    deferral = money.draw_deferral(rng, "AMAZON_BUSINESS" in history.programs, shipped[-1][0])
    out = []
    for n, ((shipped_at, _), part) in enumerate(zip(shipped, splits, strict=True)):
        posted = shipped_at + timedelta(seconds=rng.randrange(600, 4 * 3600))
        items = tuple(money.shipment_item(line, mkt, network, s.tax_collection, s.points_of(i)) for i, line in part)
        out.append(Posting(
            transaction_id(history.order_id, "shipment", n), "Shipment", "Order Payment", mkt, posted,
            _listable(rng, posted), order_id=history.order_id,
            shipment_id=f"S{_digest(history.order_id, n).hex()[:12]}",
            items=items, maturity=deferral[1] if deferral else None, deferral_reason=deferral[0] if deferral else None))
    if refund := money.draw_refund(rng, history.lines):
        index, units, after = refund
        posted = shipped[-1][0] + after
        adjustment = str(int.from_bytes(_digest("adjustment", history.order_id)[:6], "big"))
        item = money.refund_item(history.lines[index], units, mkt, network, s.tax_collection, adjustment)
        out.append(Posting(transaction_id(history.order_id, "refund", 0), "Refund", "Refund Order", mkt, posted,
                           _listable(rng, posted), order_id=history.order_id, refund_id=f"R{adjustment}",
                           items=(item,)))
    return out


def account_postings(seed: int, seller: str, day: date, orders_per_day: int) -> list[Posting]:
    """The fees and reimbursements of a seller's day that belong to no order, per marketplace."""
    out = []
    for mkt, (_, _, digits, _, _, factor, _) in MARKETPLACES.items():
        rng = random.Random(_digest(seed, "account-money", seller, mkt, day.isoformat()))
        entries: list[tuple[str, str, str, Leaf]] = []
        if day.day == 1:
            entries.append(("ServiceFee", "Subscription Fee", "subscription",
                            (("ServiceFees", "Subscription"), -money.rounded(Decimal("39.99") * factor, digits))))
        if day.day == 7:
            storage = Decimal(orders_per_day) * Decimal("0.04") * factor
            entries.append(("ServiceFee", "FBA Storage Fee", "storage",
                            (("ServiceFees", "FBAStorageFee"), -money.rounded(storage, digits))))
        if day.weekday() == 0:
            entries.append(("ServiceFee", "FBA Inbound Placement Service Fee", "inbound",
                            (("ServiceFees", "FBAInboundPlacementServiceFee"),
                             -money.rounded(Decimal(rng.randrange(2000, 8000)) / 100 * factor, digits))))
        if rng.random() < 0.1:
            entries.append(("Adjustment", "FBAInventoryReimbursement", "reimbursement",
                            (("FBAInventoryReimbursement", "WAREHOUSE_DAMAGE"),
                             money.rounded(Decimal(rng.randrange(500, 4000)) / 100 * factor, digits))))
        start = datetime.combine(day, time(), UTC)
        for kind, description, name, leaf in entries:
            posted = start + timedelta(seconds=rng.randrange(86_400))
            out.append(Posting(transaction_id(seller, mkt, day.isoformat(), name), kind, description, mkt, posted,
                               _listable(rng, posted), leaves=(leaf,)))
    return out


class Ledger:
    """Every seller's transactions, derived from its orders (as their overrides leave them) and cached per day."""

    def __init__(self, state, page_size: int = 500) -> None:
        self.state = state
        self.page_size = page_size  # transactions per listTransactions page (Amazon's guides: up to 500)
        self.expire_tokens = 0  # tests: the next this many nextTokens are answered as expired, whatever their age
        # (seller, creation day) -> (the day's version, its orders' transactions by posting day)
        self._orders: OrderedDict[tuple[str, date], tuple[int, dict[date, list[Posting]]]] = OrderedDict()
        self._lock = threading.Lock()

    def take_expiry(self) -> bool:
        with self._lock:
            if self.expire_tokens > 0:
                self.expire_tokens -= 1
                return True
        return False

    def of_created_day(self, seller: str, day: date) -> dict[date, list[Posting]]:
        """The transactions of the orders created on a day, by the day they post."""
        key = (seller, day)
        version = self.state.day_version(seller, day)
        with self._lock:
            hit = self._orders.get(key)
            if hit is not None and hit[0] == version:
                self._orders.move_to_end(key)
                return hit[1]
        version, orders = self.state.orders_created_on(seller, day)
        by_day: dict[date, list[Posting]] = {}
        for p in (p for o in orders for p in order_postings(o)):
            by_day.setdefault(p.posted_at.date(), []).append(p)
        with self._lock:
            self._orders[key] = (version, by_day)
            while len(self._orders) > 96:
                self._orders.popitem(last=False)
        return by_day

    def posted_in(self, seller: str, start: datetime, end: datetime) -> list[Posting]:
        """Every transaction of a seller posted in [start, end), by posting time."""
        out = []
        for n in range((end.date() - start.date()).days + 1):
            posted = start.date() + timedelta(days=n)
            for back in range(MONEY_LIFETIME.days + 1):
                out += [p for p in self.of_created_day(seller, posted - timedelta(days=back)).get(posted, ())
                        if start <= p.posted_at < end]
            out += [p for p in account_postings(self.state.seller.seed, seller, posted,
                                                self.state.seller.orders_per_day) if start <= p.posted_at < end]
        return sorted(out, key=lambda p: (p.posted_at, p.transaction_id))

    def of_order(self, seller: str, order_id: str) -> list[Posting]:
        history = self.state.find_order(seller, order_id)
        return order_postings(history) if history else []

    def of_group(self, seller: str, group_id: str, as_of: datetime) -> list[Posting]:
        """The released transactions of a settlement group (searched over the 14 days such an id can name)."""
        today = as_of.date()
        for back in range(0, 2 * 366, SETTLEMENT_DAYS):
            for currency in {m[1] for m in MARKETPLACES.values()}:
                gid, _, first, last = settlement_group(seller, currency, today - timedelta(days=back))
                if gid == group_id:
                    start = datetime.combine(first - timedelta(days=31), time(), UTC)
                    end = datetime.combine(last + timedelta(days=1), time(), UTC)
                    return [p for p in self.posted_in(seller, start, end) if p.currency == currency
                            and p.status_as_of(as_of) != "DEFERRED"
                            and settlement_group(seller, currency, p.released_at().date())[0] == gid]
        return []


def _currency(amount: Decimal, currency: str) -> dict:
    return {"currencyCode": currency, "currencyAmount": float(amount)}


def breakdowns(leaves: tuple[Leaf, ...] | list[Leaf], currency: str, rng: random.Random,
               depth: int | None = None) -> list[dict]:
    """The breakdown tree of some leaf amounts: every parent the sum of its children; each path's first part
    under `Sales` or `Expenses` by the sign of its group's total. `depth`: cut the tree there (a transaction's own
    breakdowns go two levels deep, its items' all the way)."""
    groups: dict[str, Decimal] = {}
    for path, amount in leaves:
        groups[path[0]] = groups.get(path[0], Decimal(0)) + amount
    tagged = [(("Sales" if groups[path[0]] >= 0 else "Expenses", *path), amount) for path, amount in leaves]
    return _level(tagged, currency, rng, 0, depth)


def _level(leaves: list[Leaf], currency: str, rng: random.Random, level: int, depth: int | None) -> list[dict]:
    names: OrderedDict[str, list[Leaf]] = OrderedDict()
    for path, amount in leaves:
        names.setdefault(path[level], []).append((path, amount))
    out = []
    for name, below in names.items():
        node: dict = {"breakdownType": name,
                      "breakdownAmount": _currency(sum((a for _, a in below), Decimal(0)), currency)}
        deeper = [leaf for leaf in below if len(leaf[0]) > level + 1]
        if deeper and (depth is None or level + 1 < depth):
            node["breakdowns"] = _level(deeper, currency, rng, level + 1, depth)
        else:
            shape = rng.random()
            if shape < 0.6:
                node["breakdowns"] = []
            elif shape < 0.8:
                node["breakdowns"] = None
        out.append(node)
    return out


def to_api(p: Posting, seller: str, as_of: datetime) -> dict:
    """A transaction as listTransactions shows it at `as_of`."""
    rng = random.Random(_digest("shape", p.transaction_id))
    name, currency = MARKETPLACES[p.marketplace_id][0], p.currency
    status = p.status_as_of(as_of)
    related = [(n, v) for n, v in (("ORDER_ID", p.order_id), ("SHIPMENT_ID", p.shipment_id),
                                   ("REFUND_ID", p.refund_id)) if v]
    if status != "DEFERRED":
        group, settlement, _, _ = settlement_group(seller, currency, p.released_at().date())
        related += [("FINANCIAL_EVENT_GROUP_ID", group), ("SETTLEMENT_ID", settlement)]
    shown = status
    if status == "RELEASED":
        shown = rng.choice(["RELEASED"] * 18 + ["Released", None])
    items = [{
        "description": f"{i.sku} x {i.quantity}",
        "relatedIdentifiers": ([{"itemRelatedIdentifierName": "ORDER_ADJUSTMENT_ITEM_ID",
                                 "itemRelatedIdentifierValue": i.adjustment_item_id}] if i.adjustment_item_id else []),
        "totalAmount": _currency(i.total, currency),
        "breakdowns": breakdowns(i.leaves, currency, rng),
        "contexts": [{"contextType": "ProductContext", "asin": i.asin, "sku": i.sku, "quantityShipped": i.quantity,
                      "fulfillmentNetwork": i.network}],
    } for i in p.items]
    every: list[Leaf] = [leaf for i in p.items for leaf in i.leaves] + list(p.leaves)
    return {
        "sellingPartnerMetadata": {"sellingPartnerId": selling_partner_id(seller), "accountType": "Standard Orders",
                                   "marketplaceId": p.marketplace_id},
        "relatedIdentifiers": [{"relatedIdentifierName": n, "relatedIdentifierValue": v} for n, v in related],
        "transactionType": p.transaction_type,
        "transactionId": p.transaction_id,
        "transactionStatus": shown,
        "description": p.description,
        "postedDate": iso(p.posted_at),
        "totalAmount": _currency(p.total, currency),
        "marketplaceDetails": {"marketplaceId": p.marketplace_id, "marketplaceName": name},
        "items": items,
        # Amazon sends a transaction without contexts as null (the notes' Amazon.se sample).
        "contexts": ([{"contextType": "DeferredContext", "deferralReason": p.deferral_reason,
                       "maturityDate": iso(p.maturity)}] if p.maturity else None),
        # A transaction's own tree sums its items' two levels deep (the notes' Amazon.se sample); without items it is
        # the whole tree.
        "breakdowns": breakdowns(every, currency, rng, depth=2 if p.items else None),
    }
