"""Query parameters as the SP-API reads them."""

from __future__ import annotations

from amazon_orders_pipeline.emulator.errors import invalid


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
