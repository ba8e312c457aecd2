"""The synthetic seller's settlements: every 14 days per currency, Amazon closes a settlement group and writes a
`GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2` document that getReports lists (for 90 days) and createReport refuses.

What the emulator decides, and why (facts: the finances notes, section 3):
- a settlement holds the money released in its 14 days (emulator/finances.py: a deferred transaction's on the day it
  matures), one row per amount, in the settlement vocabulary (transaction-type / amount-type / amount-description);
- each settlement keeps back 5% of its sales as a reserve (`Current Reserve Amount`) and gives back the previous
  one's (`Previous Reserve Amount Balance`): the lines, reserves included, sum to `total-amount`;
- the report is created the day after the group closes; `deposit-date` is three days after it ends;
- EUR files write amounts with a decimal comma (Amazon's "local number format"); the others a point;
- inbound fee rows carry the FBA shipment id in `order-id`; reserve and other fee rows leave it empty;
- one file in three has a 24th column, `promotion-id` (reported in 2026 files), so columns must be read by name.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.errors import ApiError
from amazon_orders_pipeline.emulator.finances import SETTLEMENT_DAYS, settlement_group
from amazon_orders_pipeline.emulator.money import Posting, rounded
from amazon_orders_pipeline.emulator.report_documents import CHARSETS, iso_offset
from amazon_orders_pipeline.sp_api.marketplaces import region_of

SETTLEMENT_REPORT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
COLUMNS = ["settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
           "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
           "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
           "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
           "quantity-purchased"]
RETAINED = timedelta(days=90)  # getReports lists a settlement report this long
RESERVE_SHARE = Decimal("0.05")
DEPOSIT_AFTER = timedelta(days=3)
# (transaction type, the leaf's group) -> (transaction-type, amount-type); the leaf's own name is the description.
ORDER_AMOUNTS = {"ProductCharges": "ItemPrice", "Shipping": "ItemPrice", "GiftWrap": "ItemPrice", "Tax": "ItemPrice",
                 "CODCharges": "ItemPrice", "Promotions": "Promotion", "AmazonFees": "ItemFees",
                 "ItemWithheldTax": "ItemWithheldTax", "PointsCost": "ItemFees"}
DESCRIPTIONS = {"OurPricePrincipal": "Principal", "ShippingPrincipal": "Shipping", "GiftWrapPrincipal": "GiftWrap",
                "OurPriceTax": "Tax", "PromotionPrincipal": "Principal", "PromotionShipping": "Shipping",
                "CODChargePrincipal": "CODItemCharge", "CostOfPointsGranted": "CostOfPointsGranted"}
OTHER = {"Subscription": "Subscription Fee", "FBAStorageFee": "Storage Fee",
         "FBAInboundPlacementServiceFee": "FBA Inbound Placement Service Fee"}


@dataclass(frozen=True)
class Settlement:
    seller: str
    currency: str
    group_id: str
    settlement_id: str
    start: date
    end: date
    lines: tuple[dict, ...]  # one per row after the summary, by column name (amounts as Decimal)
    reserve: Decimal  # the reserve this settlement keeps back (negative)

    @property
    def deposit_date(self) -> datetime:
        return datetime.combine(self.end, time(), UTC) + DEPOSIT_AFTER

    @property
    def created(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(6), UTC)

    @property
    def total(self) -> Decimal:
        return sum((line["amount"] for line in self.lines), Decimal(0))

    @property
    def report_id(self) -> str:
        return str(60_000_000_000 + int(self.settlement_id) % 9_999_999_999)

    @property
    def document_id(self) -> str:
        return f"amzn1.spdoc.1.4.stl.{hashlib.sha256(self.settlement_id.encode()).hexdigest()[:32]}"


def _stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def transaction_lines(p: Posting) -> list[dict]:
    """A released transaction's rows in the settlement vocabulary (amounts per leaf, fees with their VAT)."""
    name = MARKETPLACES[p.marketplace_id][0]
    common = {"order-id": p.order_id or "", "shipment-id": p.shipment_id or "", "marketplace-name": name,
              "posted-date": p.posted_at.strftime("%m/%d/%y"), "posted-date-time": _stamp(p.posted_at)}
    rows: dict[tuple, dict] = {}
    for item in p.items:
        for path, amount in item.leaves:
            kind = "Order" if p.transaction_type == "Shipment" else "Refund"
            description = path[1] if path[0] in ("AmazonFees", "ItemWithheldTax") else DESCRIPTIONS.get(path[1],
                                                                                                       path[1])
            key = (kind, ORDER_AMOUNTS.get(path[0], path[0]), description, item.sku)
            row = rows.setdefault(key, {**common, "transaction-type": kind, "amount-type": key[1],
                                        "amount-description": description, "amount": Decimal(0), "sku": item.sku,
                                        "quantity-purchased": str(item.quantity),
                                        "adjustment-id": item.adjustment_item_id or "",
                                        "fulfillment-id": item.network})
            row["amount"] += amount
    for path, amount in p.leaves:
        if path[0] == "FBAInventoryReimbursement":
            kind, amount_type, description = "other-transaction", "FBA Inventory Reimbursement", path[1]
        else:
            kind, amount_type, description = "other-transaction", "other-transaction", OTHER.get(path[1], path[1])
        order_id = f"FBA{hashlib.sha256(p.transaction_id.encode()).hexdigest()[:9].upper()}" \
            if "Inbound" in path[1] else ""
        rows[(kind, description)] = {**common, "order-id": order_id, "transaction-type": kind,
                                     "amount-type": amount_type, "amount-description": description,
                                     "amount": amount, "sku": "", "quantity-purchased": "0"}
    return list(rows.values())


class Settlements:
    """Every seller's settlements as of a moment, derived from its released transactions (finances.Ledger)."""

    def __init__(self, state, ledger) -> None:
        self.state, self.ledger = state, ledger
        self._cache: dict[tuple[str, str, date], Settlement] = {}
        # One maker at a time: callers asking at once wait for the settlements made once, not make them each.
        self._lock = threading.Lock()

    def settlement(self, seller: str, currency: str, start: date) -> Settlement:
        with self._lock:
            return self._settlement(seller, currency, start)

    def _settlement(self, seller: str, currency: str, start: date) -> Settlement:
        key = (seller, currency, start)
        if key in self._cache:
            return self._cache[key]
        group, settlement_id, first, last = settlement_group(seller, currency, start)
        lines = list(self._released_lines(seller, currency, first, last))
        reserve = self._reserve(lines, currency)
        previous = self._reserve(self._released_lines(seller, currency, first - timedelta(days=SETTLEMENT_DAYS),
                                                      first - timedelta(days=1)), currency)
        for description, amount in (("Previous Reserve Amount Balance", -previous),
                                    ("Current Reserve Amount", reserve)):
            if amount:
                lines.append({"transaction-type": "other-transaction", "amount-type": "other-transaction",
                              "amount-description": description, "amount": amount, "quantity-purchased": "0",
                              "posted-date-time": _stamp(datetime.combine(last, time(23, 59, 59), UTC))})
        settled = Settlement(seller, currency, group, settlement_id, first, last, tuple(lines), reserve)
        self._cache[key] = settled
        return settled

    def _released_lines(self, seller: str, currency: str, first: date, last: date) -> tuple[dict, ...]:
        """The rows of the transactions released in [first, last] (a deferred one is released when it matures)."""
        # A deferred transaction is released at most 31 days after it posts (B2B terms are 30 days).
        since = datetime.combine(first - timedelta(days=31), time(), UTC)
        until = datetime.combine(last + timedelta(days=1), time(), UTC)
        return tuple(line for p in self.ledger.posted_in(seller, since, until)
                     if p.currency == currency and first <= p.released_at().date() <= last
                     for line in transaction_lines(p))

    @staticmethod
    def _reserve(lines, currency: str) -> Decimal:
        """What a settlement keeps back: 5% of its sales, as a negative amount."""
        digits = next(m[2] for m in MARKETPLACES.values() if m[1] == currency)
        sales = sum((line["amount"] for line in lines if line["amount-type"] == "ItemPrice"), Decimal(0))
        return -rounded(max(sales, Decimal(0)) * RESERVE_SHARE, digits)

    def listed(self, seller: str, now: datetime) -> list[Settlement]:
        """The seller's settlements getReports lists at `now`: created in the last 90 days, per currency of its
        region."""
        region = self._region(seller)
        currencies = sorted({m[1] for mid, m in MARKETPLACES.items() if region_of(mid) == region})
        out: dict[tuple[str, date], Settlement] = {}
        day = (now - RETAINED).date() - timedelta(days=SETTLEMENT_DAYS)
        while day <= now.date():
            for currency in currencies:
                first = settlement_group(seller, currency, day)[2]
                if (currency, first) not in out and now - RETAINED <= (s := self.settlement(
                        seller, currency, first)).created <= now:
                    out[(currency, first)] = s
            day += timedelta(days=SETTLEMENT_DAYS)
        return list(out.values())

    def _region(self, seller: str) -> str:
        return region_of(next(iter(self.state.regional_marketplaces(seller, []))))

    # --- what the Reports backend asks (emulator/reports.py, `generated`) ------------------------------------
    def report_types(self) -> set[str]:
        return {SETTLEMENT_REPORT}

    def refuse(self, report_type: str) -> None:
        if report_type == SETTLEMENT_REPORT:
            raise ApiError(400, "InvalidInput", "Request for report type 1118 is not allowed at this time.")

    def reports(self, seller: str, now: datetime) -> list[dict]:
        return [self._body(s) for s in self.listed(seller, now)]

    def report(self, seller: str, report_id: str, now: datetime) -> dict | None:
        return next((self._body(s) for s in self.listed(seller, now) if s.report_id == report_id), None)

    def document(self, seller: str, document_id: str, now: datetime) -> tuple[bytes, str] | None:
        """(gzipped content, charset) of one of the seller's listed settlement documents."""
        found = next((s for s in self.listed(seller, now) if s.document_id == document_id), None)
        if found is None:
            return None
        charset = CHARSETS[self._region(seller)]
        return gzip.compress(render(found).encode(charset[1]), mtime=0), charset[0]

    def _body(self, s: Settlement) -> dict:
        marketplaces = [m for m, v in MARKETPLACES.items() if v[1] == s.currency]
        return {"reportId": s.report_id, "reportType": SETTLEMENT_REPORT,
                "dataStartTime": iso_offset(datetime.combine(s.start, time(), UTC)),
                "dataEndTime": iso_offset(datetime.combine(s.end + timedelta(days=1), time(), UTC)),
                "marketplaceIds": marketplaces, "createdTime": iso_offset(s.created), "processingStatus": "DONE",
                "processingStartTime": iso_offset(s.created), "processingEndTime": iso_offset(s.created),
                "reportDocumentId": s.document_id}


def render(s: Settlement) -> str:
    """The tab-separated file: the header, the summary row, then one row per line."""
    comma = s.currency == "EUR"
    columns = COLUMNS + (["promotion-id"] if int(s.settlement_id) % 3 == 0 else [])

    def amount(value: Decimal) -> str:
        text = f"{value:.2f}" if s.currency != "JPY" else f"{value:.0f}"
        return text.replace(".", ",") if comma else text

    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    summary = {"settlement-id": s.settlement_id,
               "settlement-start-date": _stamp(datetime.combine(s.start, time(), UTC)),
               "settlement-end-date": _stamp(datetime.combine(s.end + timedelta(days=1), time(), UTC)),
               "deposit-date": _stamp(s.deposit_date), "total-amount": amount(s.total), "currency": s.currency}
    writer.writerow([summary.get(c, "") for c in columns])
    for line in s.lines:
        row = {**line, "settlement-id": s.settlement_id, "amount": amount(line["amount"])}
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()
