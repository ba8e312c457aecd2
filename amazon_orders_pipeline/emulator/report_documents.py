"""The order reports' documents as Amazon writes them: gzipped TSV at line grain, Amazon's vocabulary and header
variants, the region's charset; made in the emulator or in worker processes of their own. The returns reports'
documents too (their rows: emulator/returns.py)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from amazon_orders_pipeline.emulator import returns
from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.orders import Line, OrderHistory
from amazon_orders_pipeline.emulator.state import EmulatorState
from amazon_orders_pipeline.sp_api.marketplaces import region_of

BY_ORDER_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
BY_LAST_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
REPORT_TYPES = {BY_LAST_UPDATE: "lastUpdated", BY_ORDER_DATE: "created"}
# The returns reports, by the fulfilment network whose returns each holds.
RETURN_REPORT_TYPES = {returns.FBA_RETURNS: "AFN", returns.MFN_RETURNS: "MFN"}
SUPPORTED_TYPES = sorted({*REPORT_TYPES, *RETURN_REPORT_TYPES})
MAX_WINDOW = timedelta(days=30)
HISTORY = timedelta(days=730)
WINDOW_TOO_LONG = "Date range exceeded. Report can be requested only upto 30 days"
# The download's charset, as users see it per region (UTF-8 in NA, Cp1252 in the EU, cp932 in JP), and the Python
# codec that writes it.
CHARSETS = {"NA": ("UTF-8", "utf-8"), "EU": ("Cp1252", "cp1252"), "FE": ("cp932", "cp932")}

# The documented columns of BY_LAST_UPDATE, in file order; BY_ORDER_DATE adds `cpf` after `promotion-ids`.
COLUMNS = [
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
    "fulfillment-channel", "sales-channel", "order-channel", "ship-service-level", "product-name", "sku", "asin",
    "item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price", "shipping-tax",
    "gift-wrap-price", "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order", "purchase-order-number",
    "price-designation",
]
ORDER_STATUS = {"PENDING": "Pending", "PENDING_AVAILABILITY": "Pending", "UNSHIPPED": "Unshipped",
                "PARTIALLY_SHIPPED": "Shipping", "CANCELLED": "Cancelled"}
ITEM_STATUS = {"SHIPPED": "Shipped", "CANCELLED": "Cancelled"}


def header(report_type: str, variant: int) -> list[str]:
    """The header of one document. Headers differ by era and account (an MWS-era `url` column, the recent
    `order-item-id`), so parsers must read columns by name: the emulator varies them by report."""
    columns = list(COLUMNS)
    if report_type == BY_ORDER_DATE:
        columns.insert(columns.index("promotion-ids") + 1, "cpf")
    if variant == 1:
        columns.insert(columns.index("order-channel") + 1, "url")
    elif variant == 2:
        columns.insert(columns.index("merchant-order-id") + 1, "order-item-id")
    return columns


def iso_offset(ts: datetime) -> str:
    """As the Reports API writes its times: `+00:00`, not `Z`."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _amount(value: Decimal, digits: int) -> str:
    return "" if value is None else str(value.quantize(Decimal(1).scaleb(-digits)))


def _round(amount: Decimal, digits: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _share(amount: Decimal, part: int, whole: int, digits: int) -> Decimal:
    return _round(amount * part / whole, digits)


def _row_quantities(line: Line, fulfilled_by: str, status: str) -> list[int]:
    """A line shipped from two fulfilment centres is two rows (about one in seven of Amazon's multi-unit lines)."""
    digest = hashlib.sha256(line.order_item_id.encode()).digest()[0]
    if fulfilled_by == "AMAZON" and status == "SHIPPED" and line.quantity >= 2 and digest % 7 == 0:
        return [1, line.quantity - 1]
    return [line.quantity]


def order_rows(order: OrderHistory, as_of: datetime, columns: list[str]) -> list[dict[str, str]]:
    """The document rows of one order as of a moment: one per line, or two for a split line."""
    state = order.state_as_of(as_of)
    if state is None:
        return []
    updated, status = state
    name, currency, digits, _, rate, _, _ = MARKETPLACES[order.marketplace_id]
    # Merchant-fulfilled Pending rows carry no price (documented); Amazon-fulfilled ones do (observed).
    priced = order.had_money(as_of) or (order.fulfilled_by == "AMAZON" and status.startswith("PENDING"))
    a = order.address
    rows = []
    for line in order.lines:
        quantities = _row_quantities(line, order.fulfilled_by, status)
        for index, q in enumerate(quantities):
            def part(amount: Decimal, index=index, quantities=quantities, line=line) -> str:
                """The row's share of a line amount: the first row's rounded, the second the rest, so they add up."""
                if not priced or not amount:
                    return ""
                if len(quantities) == 1:
                    return _amount(amount, digits)
                first = _share(amount, quantities[0], line.quantity, digits)
                return _amount(first if index == 0 else amount - first, digits)

            # The line's tax by what it is on; the item's part is net of the item promotion's tax.
            shipping_tax = _round((line.shipping - line.shipping_discount) * rate, digits)
            gift_wrap_tax = _round(line.gift_wrap * rate, digits)
            row = {
                "amazon-order-id": order.order_id, "merchant-order-id": order.order_id,
                "order-item-id": line.order_item_id,
                "purchase-date": iso_offset(order.created_at), "last-updated-date": iso_offset(updated),
                "order-status": ("Shipped - Delivered to Buyer" if order.fulfilled_by == "AMAZON" else "Shipped")
                if status == "SHIPPED" else ORDER_STATUS[status],
                "fulfillment-channel": "Amazon" if order.fulfilled_by == "AMAZON" else "Merchant",
                "sales-channel": name if order.sales_channel == "AMAZON" else "Non-Amazon", "order-channel": "",
                "url": "", "ship-service-level": "Standard",
                "product-name": line.title, "sku": line.sku, "asin": line.asin,
                "item-status": ITEM_STATUS.get(status, "Unshipped"), "quantity": str(q),
                "currency": currency if priced else "",
                "item-price": part(line.unit_price * line.quantity),
                "item-tax": part(line.tax - shipping_tax - gift_wrap_tax),
                "shipping-price": part(line.shipping),
                "shipping-tax": part(shipping_tax),
                "gift-wrap-price": part(line.gift_wrap),
                "gift-wrap-tax": part(gift_wrap_tax),
                # Discounts as negative amounts, as Amazon's other money reports write them (the sign in this
                # report is unverified: parsers should take the absolute value).
                "item-promotion-discount": part(-line.discount) if line.discount else "",
                "ship-promotion-discount": part(-line.shipping_discount) if line.shipping_discount else "",
                "ship-city": a["city"], "ship-state": a["stateOrRegion"], "ship-postal-code": a["postalCode"],
                "ship-country": a["countryCode"], "promotion-ids": ",".join(line.promotion_ids),
                "is-business-order": "true" if "AMAZON_BUSINESS" in order.programs else "false",
                "purchase-order-number": "", "price-designation": "", "cpf": "",
            }
            rows.append({c: row[c] for c in columns})
    return rows


def render(columns: list[str], rows: list[dict[str, str]], codec: str) -> bytes:
    """The document as Amazon serves it: TSV with a header row, in the region's charset, gzipped."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[c] for c in columns])
    return gzip.compress(out.getvalue().encode(codec), mtime=0)


@dataclass(frozen=True)
class DocumentJob:
    """What a report's document is made from: the seller's orders of the window as of the end of processing."""

    seller: str
    field: str
    start: datetime
    end: datetime
    as_of: datetime
    marketplaces: frozenset[str]
    report_type: str
    variant: int
    codec: str


def make_document(state, job: DocumentJob) -> tuple[bytes | None, str]:
    """(gzipped TSV, DONE), or (None, CANCELLED) when the window holds no order."""
    # A report reads the orders themselves, not the search index: a late re-check by report sees what the index
    # has not shown yet.
    orders = state.window_orders(job.seller, job.field, job.start, job.end, job.as_of,
                                 marketplaces=set(job.marketplaces), indexed=False) if job.start < job.end else []
    if not orders:
        return None, "CANCELLED"
    columns = header(job.report_type, job.variant)
    rows = [row for o in orders for row in order_rows(o, job.as_of, columns)]
    return render(columns, rows, job.codec), "DONE"


@dataclass(frozen=True)
class ReturnsJob:
    """What a returns report's document is made from: the seller's returns of one network whose report date falls
    in the window, as listed at the end of processing."""

    seller: str
    network: str
    start: datetime
    end: datetime
    as_of: datetime
    marketplaces: frozenset[str]
    codec: str


def make_returns_document(state, job: ReturnsJob) -> tuple[bytes | None, str]:
    """(gzipped TSV, DONE); an MFN window without a return ends CANCELLED, as Amazon's does (an empty FBA window is
    a header alone: that the FBA report is not also CANCELLED is an inference)."""
    rows = returns.returns_in(state, job.seller, job.network, job.start, job.end, job.as_of,
                              marketplaces=set(job.marketplaces))
    if job.network == "MFN":
        if not rows:
            return None, "CANCELLED"
        return render(returns.MFN_COLUMNS, [returns.mfn_row(r) for r in rows], job.codec), "DONE"
    return render(returns.FBA_COLUMNS, [returns.fba_row(r) for r in rows], job.codec), "DONE"


_worker_state = None


def start_worker(seed: int, orders_per_day: int) -> None:
    global _worker_state
    _worker_state = EmulatorState(seed=seed, orders_per_day=orders_per_day)


def worker_document(job: DocumentJob | ReturnsJob) -> tuple[bytes | None, str]:
    return make_any_document(_worker_state, job)


def make_any_document(state, job: DocumentJob | ReturnsJob) -> tuple[bytes | None, str]:
    return make_returns_document(state, job) if isinstance(job, ReturnsJob) else make_document(state, job)


def _fatal(message: str) -> tuple[bytes, str]:
    return gzip.compress(json.dumps({"errorDetails": message}).encode(), mtime=0), "FATAL"


def document_job(request) -> DocumentJob | ReturnsJob | tuple[bytes, str]:
    """The document job of a report request (reports.ReportRequest), or its FATAL outcome when there is nothing to
    make."""
    ended = request.created + request.processing
    region_marketplaces = frozenset(m for m in MARKETPLACES if region_of(m) == request.region)
    if (network := RETURN_REPORT_TYPES.get(request.report_type)) is not None:
        if request.fatal:
            return _fatal("The report could not be generated. Try again later.")
        if network == "MFN" and request.end - request.start > returns.MFN_MAX_WINDOW:
            return _fatal(returns.MFN_WINDOW_TOO_LONG)
        return ReturnsJob(request.seller, network, request.start, request.end, ended, region_marketplaces,
                          CHARSETS[request.region][1])
    if request.end - request.start > MAX_WINDOW or request.fatal:
        message = WINDOW_TOO_LONG if not request.fatal else "The report could not be generated. Try again later."
        return _fatal(message)
    return DocumentJob(
        request.seller, REPORT_TYPES[request.report_type],
        # Two years of history: older orders are not in any report.
        max(request.start, ended - HISTORY), request.end, ended, region_marketplaces, request.report_type,
        int(request.report_id) % 3, CHARSETS[request.region][1])
