"""The synthetic seller's returns, consistent with its orders and its refunds (emulator/finances.py), as the two
returns reports show them (../shared/spapi-finances-notes.md §4).

What the emulator decides, and why:
- a return belongs to a shipped Amazon order (as money does); an Amazon-fulfilled (AFN) return is a row per unit
  in `GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA`, told apart by its license plate; a merchant-fulfilled (MFN)
  return is a row per return (RMA) in `GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`;
- an order refunded (emulator/money.py: 7% of shipped orders) mostly has a return of the refunded line: the same
  units, or one unit more that came back but was not refunded (a partial refund); 15% of refunds have no return
  (Amazon's returnless refunds), and so no row in the FBA report, as on Amazon (fact 57 of the notes);
- 1.5% of the orders not refunded have a return all the same (refused, out of policy, or not refunded yet);
- the FBA report's `return-date` is when a fulfilment centre processed the unit: 3 to 40 days after the buyer's
  request, and the row shows up to 36 hours after that, so re-reading an older window finds new rows; an MFN
  return is listed within hours of its request, by request date;
- reason codes come from an open set (MFN ones with Amazon's `CR-`/`AMZ-PG-` prefixes), dispositions from the six
  Amazon documents; the date formats of the MFN file are not documented: ISO dates are an inference.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from amazon_orders_pipeline.emulator import finances
from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.money import DELIVERY_AFTER_SHIPPING, Posting
from amazon_orders_pipeline.emulator.orders import OrderHistory
from amazon_orders_pipeline.sp_api.marketplaces import region_of

FBA_RETURNS = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_RETURNS = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
MFN_MAX_WINDOW = timedelta(days=60)
MFN_WINDOW_TOO_LONG = "Date range exceeded. Report can be requested only upto 60 days"

RETURNLESS_SHARE = 0.15  # of refunds
EXTRA_UNIT_SHARE = 0.25  # of returns of a line with more units than were refunded
UNREFUNDED_SHARE = 0.015  # of orders not refunded
# From an order's creation to the last return that can be processed: shipping, a refund up to 30 days later, then
# up to 40 days of processing and the report's own delay.
RETURN_HORIZON = finances.MONEY_LIFETIME + timedelta(days=45)

FBA_COLUMNS = ["return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity", "fulfillment-center-id",
               "detailed-disposition", "reason", "status", "license-plate-number", "customer-comments"]
MFN_COLUMNS = ["Order ID", "Order date", "Return request date", "Return request status", "Amazon RMA ID",
               "Merchant RMA ID", "Label type", "Label cost", "Currency code", "Return carrier", "Tracking ID",
               "Label to be paid by", "A-to-Z Claim", "Is prime", "ASIN", "Merchant SKU", "Item Name",
               "Return quantity", "Return Reason", "In policy", "Return type", "Resolution", "Invoice number",
               "Return delivery date", "Order Amount", "Order quantity", "SafeT Action reason", "SafeT claim id",
               "SafeT claim state", "SafeT claim creation time", "SafeT claim reimbursement amount",
               "Refunded Amount"]

DISPOSITIONS = (("SELLABLE", 55), ("CUSTOMER_DAMAGED", 14), ("DEFECTIVE", 12), ("DAMAGED", 9),
                ("CARRIER_DAMAGED", 6), ("EXPIRED", 4))
REASONS = ("UNWANTED_ITEM", "DEFECTIVE", "NOT_AS_DESCRIBED", "NOT_COMPATIBLE", "ORDERED_WRONG_ITEM",
           "QUALITY_UNACCEPTABLE", "DAMAGED_BY_CARRIER", "MISSED_ESTIMATED_DELIVERY", "FOUND_BETTER_PRICE",
           "SWITCHEROO")
MFN_REASONS = ("CR-UNWANTED_ITEM", "CR-DEFECTIVE", "CR-NOT_AS_DESCRIBED", "CR-ORDERED_WRONG_ITEM",
               "CR-QUALITY_UNACCEPTABLE", "CR-DAMAGED_BY_CARRIER", "AMZ-PG-BAD-DESC", "AMZ-PG-MISORDERED")
CENTRES = {"NA": ("PHX7", "ONT8", "BFI4", "MDW2", "YYZ4"), "EU": ("LEJ1", "MAD4", "BHX1", "MXP5", "CDG7"),
           "FE": ("NRT1", "KIX2")}


@dataclass(frozen=True)
class Return:
    """One row of a returns report: a unit (AFN) or a return (MFN)."""

    network: str  # AFN | MFN
    order_id: str
    marketplace_id: str
    order_created_at: datetime
    sku: str
    asin: str
    title: str
    quantity: int
    requested_at: datetime  # the buyer's return request
    processed_at: datetime  # AFN: the fulfilment centre's processing (`return-date`); MFN: the return's delivery
    listed_at: datetime  # when the report first shows the row
    reason: str
    disposition: str | None  # AFN only
    status: str
    return_key: str  # AFN: the license plate; MFN: Amazon's RMA id
    refunded: Decimal | None  # what the refund paid back for this line (MFN's Refunded Amount), None without one
    refund_id: str | None
    order_amount: Decimal
    order_quantity: int

    @property
    def report_date(self) -> datetime:
        """What a report window selects the row by: the processing date (AFN) or the request date (MFN)."""
        return self.processed_at if self.network == "AFN" else self.requested_at


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(map(str, parts)).encode()).digest()


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _refunded(refund: Posting) -> Decimal:
    """What a refund paid the buyer back: its product charges, promotion and tax (not the fees credited back)."""
    item = refund.items[0]
    return -sum((a for path, a in item.leaves if path[0] in ("ProductCharges", "Promotions", "Tax")), Decimal(0))


def order_returns(history: OrderHistory, postings: list[Posting] | None = None) -> list[Return]:
    """An order's return rows, from its own random stream and its refund (finances.order_postings)."""
    postings = finances.order_postings(history) if postings is None else postings
    shipments = [p for p in postings if p.transaction_type == "Shipment"]
    if not shipments:
        return []
    shipped_at = max(p.posted_at for p in shipments)
    refund = next((p for p in postings if p.transaction_type == "Refund"), None)
    rng = random.Random(_digest("returns", history.order_id))
    if refund is not None:
        if rng.random() < RETURNLESS_SHARE:
            return []
        item = refund.items[0]
        # Amazon's refund names the SKU, not the line: of two lines of one SKU, the first that holds the units.
        line, units = next(x for x in history.lines if x.sku == item.sku and x.quantity >= item.quantity), item.quantity
        if line.quantity > units and rng.random() < EXTRA_UNIT_SHARE:
            units += 1
        # Amazon refunds an AFN return when it is asked for (or scanned by the carrier); a merchant refunds once
        # the return is back, days after the request. Either way the request follows the delivery.
        delivered = shipped_at + DELIVERY_AFTER_SHIPPING
        lead = refund.posted_at - delivered
        hours = min(48 if history.fulfilled_by == "AMAZON" else 288, max(1, int(lead.total_seconds() // 3600)))
        requested = max(delivered, refund.posted_at - timedelta(hours=rng.randrange(0, hours)))
        refunded: Decimal | None = _refunded(refund)
    elif rng.random() < UNREFUNDED_SHARE:
        line, units = rng.choice(history.lines), 1
        requested = shipped_at + timedelta(hours=rng.randrange(3 * 24, 25 * 24))
        refunded = None
    else:
        return []
    common = {"order_id": history.order_id, "marketplace_id": history.marketplace_id,
              "order_created_at": history.created_at, "sku": line.sku, "asin": line.asin, "title": line.title,
              "refunded": refunded, "refund_id": refund.refund_id if refund else None,
              "order_amount": sum((x.proceeds_total for x in history.lines), Decimal(0)),
              "order_quantity": sum(x.quantity for x in history.lines)}
    if history.fulfilled_by == "AMAZON":
        out = []
        for unit in range(units):
            processed = requested + timedelta(hours=rng.randrange(3 * 24, 40 * 24))
            disposition = _weighted(rng, DISPOSITIONS)
            out.append(Return(
                "AFN", quantity=1, requested_at=requested, processed_at=processed,
                listed_at=processed + timedelta(minutes=rng.randrange(120, 36 * 60)),
                reason=rng.choice(REASONS), disposition=disposition,
                status="Reimbursed" if disposition in ("DAMAGED", "CARRIER_DAMAGED") else "Unit returned to inventory",
                return_key=f"LPN{_digest(history.order_id, 'lpn', unit).hex()[:10].upper()}", **common))
        return out
    back = requested + timedelta(hours=rng.randrange(48, 240))
    if refund is not None:
        back = min(back, max(requested, refund.posted_at - timedelta(hours=2)))
    return [Return("MFN", quantity=units, requested_at=requested, processed_at=back,
                   listed_at=requested + timedelta(minutes=rng.randrange(30, 12 * 60)),
                   reason=rng.choice(MFN_REASONS), disposition=None,
                   status="Approved" if refund is not None or rng.random() < 0.5 else "Pending",
                   return_key=f"D{int.from_bytes(_digest(history.order_id, 'rma')[:5], 'big'):013d}", **common)]


def returns_in(state, seller: str, network: str, start: datetime, end: datetime, as_of: datetime,
               marketplaces: set[str] | None = None) -> list[Return]:
    """The seller's rows of one report: `network`'s returns whose report date falls in [start, end) and that the
    report shows at `as_of`, in report-date order."""
    orders = state.window_orders(seller, "created", start - RETURN_HORIZON, end, as_of, marketplaces=marketplaces,
                                 indexed=False)
    rows = [r for o in orders for r in order_returns(o) if r.network == network
            and start <= r.report_date < end and r.listed_at <= as_of]
    return sorted(rows, key=lambda r: (r.report_date, r.order_id, r.return_key))


def _stamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def fba_row(r: Return) -> dict[str, str]:
    region = region_of(r.marketplace_id)
    centres = CENTRES[region]
    digest = _digest(r.return_key)
    comment = ("" if digest[0] % 3 else
               ("Größe passt nicht" if region == "EU" else "Item did not match the description"))
    return {"return-date": _stamp(r.processed_at), "order-id": r.order_id, "sku": r.sku, "asin": r.asin,
            "fnsku": f"X00{r.asin[-7:]}", "product-name": r.title, "quantity": str(r.quantity),
            "fulfillment-center-id": centres[digest[1] % len(centres)],
            "detailed-disposition": r.disposition or "", "reason": r.reason, "status": r.status,
            "license-plate-number": r.return_key, "customer-comments": comment}


def mfn_row(r: Return) -> dict[str, str]:
    _, currency, digits, *_ = MARKETPLACES[r.marketplace_id]
    digest = _digest(r.return_key)
    prepaid = digest[0] % 2 == 0

    def money(amount: Decimal | None) -> str:
        return "" if amount is None else str(amount.quantize(Decimal(1).scaleb(-digits)))

    return {"Order ID": r.order_id, "Order date": r.order_created_at.strftime("%Y-%m-%d"),
            "Return request date": r.requested_at.strftime("%Y-%m-%d"),
            "Return request status": r.status, "Amazon RMA ID": r.return_key,
            "Merchant RMA ID": f"RMA-{digest[1]:03d}{digest[2]:03d}" if digest[3] % 4 == 0 else "",
            "Label type": "AmazonPrePaidLabel" if prepaid else "SelfShipped",
            "Label cost": money(Decimal(digest[4] % 900 + 400) / 100) if prepaid else "",
            "Currency code": currency, "Return carrier": ("UPS", "USPS", "DHL", "Royal Mail")[digest[5] % 4],
            "Tracking ID": f"1Z{digest.hex()[6:22].upper()}",
            "Label to be paid by": "Seller" if prepaid else "Customer",
            "A-to-Z Claim": "N", "Is prime": "Y" if digest[6] % 3 == 0 else "N", "ASIN": r.asin,
            "Merchant SKU": r.sku, "Item Name": r.title, "Return quantity": str(r.quantity),
            "Return Reason": r.reason, "In policy": "Y" if digest[7] % 10 else "N", "Return type": "C-Returns",
            "Resolution": "StandardRefund", "Invoice number": "",
            "Return delivery date": r.processed_at.strftime("%Y-%m-%d") if r.status == "Approved" else "",
            "Order Amount": money(r.order_amount), "Order quantity": str(r.order_quantity),
            "SafeT Action reason": "", "SafeT claim id": "", "SafeT claim state": "",
            "SafeT claim creation time": "", "SafeT claim reimbursement amount": "",
            "Refunded Amount": money(r.refunded) if r.refunded is not None else "0"}


def truth_rows(state, seller: str, start: datetime, end: datetime, as_of: datetime,
               marketplaces: set[str] | None = None) -> list[dict]:
    """Every return row of both networks whose report date falls in [start, end), listed by `as_of` (the ground
    truth served by /_emulator/returns_truth), with the grain and values an `order_returns` mart should hold."""
    rows = [r for network in ("AFN", "MFN")
            for r in returns_in(state, seller, network, start, end, as_of, marketplaces)]
    return [{"network": r.network, "order_id": r.order_id, "marketplace_id": r.marketplace_id, "sku": r.sku,
             "return_key": r.return_key, "quantity": r.quantity, "reason": r.reason, "disposition": r.disposition,
             "status": r.status, "requested_at": _stamp(r.requested_at), "processed_at": _stamp(r.processed_at),
             "refunded": None if r.refunded is None else str(r.refunded), "refund_id": r.refund_id}
            for r in rows]
