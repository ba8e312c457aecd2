"""Plain-Python SP-API access: LWA auth, token-bucket pacing, retries and pagination. No Dagster here."""

from amazon_orders_pipeline.sp_api.auth import AuthError, LwaAuth, LwaCredentials
from amazon_orders_pipeline.sp_api.client import Page, RetryPolicy, SpApiClient, SpApiError

__all__ = ["AuthError", "LwaAuth", "LwaCredentials", "Page", "RetryPolicy", "SpApiClient", "SpApiError"]
