"""Restricted data tokens (Tokens API): one RDT for a set of restricted resources, cached for its lifetime."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from amazon_orders_pipeline.sp_api.auth import CachedToken

if TYPE_CHECKING:
    from amazon_orders_pipeline.sp_api.client import SpApiClient


class RestrictedDataToken(CachedToken):
    """An RDT used in place of the LWA access token on the calls its resources cover."""

    def __init__(self, client: SpApiClient, resources: list[dict], clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self._client = client
        self.resources = resources

    def _fetch(self) -> tuple[str, float]:
        return self._client.create_restricted_data_token(self.resources)
