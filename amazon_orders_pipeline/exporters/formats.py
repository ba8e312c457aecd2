"""Value formats the loaders expect: amounts in the currency's minor units, UTC timestamps, CSV, checksums."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units where they are not 2.
CURRENCY_DIGITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "UGX": 0, "PYG": 0,
                   "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3}


def currency_digits(currency: str | None) -> int:
    return CURRENCY_DIGITS.get((currency or "").upper(), 2)


def format_amount(amount: Decimal | None, currency: str | None, max_digits: int | None = None) -> str:
    """Plain decimal text with the currency's minor units (JPY 19940, EUR 21.60); '' when unknown."""
    if amount is None:
        return ""
    digits = currency_digits(currency)
    if max_digits is not None:
        digits = min(digits, max_digits)
    return f"{amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP):f}"


def iso_utc_millis(ts: datetime) -> str:
    """2026-11-20T10:15:00.000Z: what Salesforce's date-time fields take."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def iso_utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8, comma, LF line endings, a header row, RFC 4180 quoting (only where a value needs it)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
