"""Plain-Python SP-API access: LWA auth, token-bucket pacing, retries and pagination. No Dagster here."""

from amazon_orders_pipeline.sp_api.auth import AuthError, LwaAuth, LwaCredentials
from amazon_orders_pipeline.sp_api.http import RetryPolicy, SpApiClient, SpApiError
from amazon_orders_pipeline.sp_api.pages import Page

__all__ = ["AuthError", "LwaAuth", "LwaCredentials", "Page", "RetryPolicy", "SpApiClient", "SpApiError"]
