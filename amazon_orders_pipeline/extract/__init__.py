"""Ways in, no Dagster: the shared window and landing machinery (landing.py), one module per SP-API path
(search_orders.py, get_orders_v0.py), and the extraction of one change window (window.py)."""

from amazon_orders_pipeline.extract.landing import (
    ExtractError,
    ExtractResult,
    LandedPage,
    LandedWindow,
    PageStore,
    Progress,
    Window,
    change_window,
    landed_window,
    mark_loaded,
)
from amazon_orders_pipeline.extract.search_orders import redact_pii, search_params
from amazon_orders_pipeline.extract.window import extract_window, order_source

__all__ = [
    "ExtractError", "ExtractResult", "LandedPage", "LandedWindow", "PageStore", "Progress", "Window", "change_window",
    "extract_window", "landed_window", "mark_loaded", "order_source", "redact_pii", "search_params",
]
