"""The Tokens API 2021-03-01: restricted data tokens, one for a set of restricted resources, cached for its
lifetime."""

from __future__ import annotations

import time
from collections.abc import Callable

from amazon_orders_pipeline.sp_api.auth import CachedToken
from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError

RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"


def create_restricted_data_token(client: SpApiClient, resources: list[dict]) -> tuple[str, float]:
    """A restricted data token for `resources`, and its lifetime in seconds."""
    resp = client.call("createRestrictedDataToken", "POST", RDT_PATH, json_body={"restrictedResources": resources})
    try:
        return str(resp.data["restrictedDataToken"]), float(resp.data.get("expiresIn", 3600))
    except (KeyError, TypeError, ValueError):
        raise SpApiError("createRestrictedDataToken", 200, "Unreadable", "no restrictedDataToken") from None


class RestrictedDataToken(CachedToken):
    """An RDT used in place of the LWA access token on the calls its resources cover."""

    def __init__(self, client: SpApiClient, resources: list[dict], clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self._client = client
        self.resources = resources

    def _fetch(self) -> tuple[str, float]:
        return create_restricted_data_token(self._client, self.resources)
