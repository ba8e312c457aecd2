"""Query parameters and timestamps as the SP-API reads them."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

from amazon_orders_pipeline.emulator.errors import ApiError, invalid


def multi(params: dict[str, list[str]], name: str) -> list[str]:
    """Array query parameters arrive comma-separated (Swagger's csv) or repeated; accept both."""
    out: list[str] = []
    for v in params.get(name, []):
        out.extend(x for x in v.split(",") if x)
    return out


def single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise invalid(f"{name} given more than once")
    return values[0]


# An Amazon order id (3-7-7 digits).
ORDER_ID_RE = re.compile(r"^\d{3}-\d{7}-\d{7}$")
ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


def parse_timestamp(name: str, value: str, offsets: bool = True) -> datetime:
    """An ISO-8601 date-time as Amazon reads it: `Z` is UTC, and so is a time without an offset (users report both
    accepted). v2026 takes an offset such as `+02:00` (its model says ISO 8601, and Amazon's Python SDK sends
    `datetime.isoformat()`, `...+00:00`); v0 is reported to refuse one (`offsets=False`). Epoch numbers and other
    text are refused."""
    if not ISO_DATE_TIME.fullmatch(value):
        raise invalid(f"{name} is not a valid ISO-8601 date-time: {value!r}")
    has_offset = not value.endswith("Z") and re.search(r"[+-]\d{2}:?\d{2}$", value) is not None
    if has_offset and not offsets:
        # What Orders v0 answers (amzn/selling-partner-api-models#1215).
        raise ApiError(400, "InvalidInput", "timestamp must follow ISO8601", "")
    try:
        ts = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise invalid(f"{name} is not a valid ISO-8601 date-time: {value!r}") from None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


def resume_listing(params: dict[str, list[str]]) -> tuple[dict[str, list[str]], int]:
    """A getReports/getFeeds request: (its query, the offset), from a nextToken (then the only parameter) or as
    given from the first page."""
    token = single(params, "nextToken")
    if token is None:
        return params, 0
    if set(params) - {"nextToken"}:
        raise invalid("nextToken must be the only parameter")
    try:
        query = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return query["params"], int(query["offset"])
    except (ValueError, KeyError, TypeError):
        raise invalid("nextToken is malformed") from None


def listing_page(items: list, key: str, params: dict[str, list[str]], offset: int) -> dict:
    """One page of a listing (pageSize 1 to 100, 10 by default), with a nextToken carrying the query when more
    are left."""
    page_size = int(single(params, "pageSize") or 10)
    if not 1 <= page_size <= 100:
        raise invalid("pageSize must be between 1 and 100")
    body: dict = {key: items[offset: offset + page_size]}
    if offset + page_size < len(items):
        body["nextToken"] = base64.urlsafe_b64encode(json.dumps(
            {"params": params, "offset": offset + page_size}).encode()).decode().rstrip("=")
    return body


def known(params: dict[str, list[str]], names: set[str]) -> dict[str, list[str]]:
    """Amazon ignores query parameters it does not know (clients send extra ones), and so does the emulator."""
    return {k: v for k, v in params.items() if k in names}


def page_size(params: dict[str, list[str]], name: str) -> int:
    raw = single(params, name) or "100"
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise invalid(f"{name} must be between 1 and 100")
    return int(raw)


def enum_list(params: dict[str, list[str]], name: str, allowed) -> list[str]:
    values = multi(params, name)
    if bad := [v for v in values if v not in allowed]:
        raise invalid(f"invalid {name}: {bad}")
    return values


def spec_time(spec: dict, name: str, default: datetime) -> datetime:
    """A date-time field of a JSON request body, or `default` when absent or empty."""
    value = spec.get(name)
    return default if value in (None, "") else parse_timestamp(name, str(value))
