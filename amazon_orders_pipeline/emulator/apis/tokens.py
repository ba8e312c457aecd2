"""The Tokens API 2021-03-01: restricted data tokens for the operations that return PII."""

from __future__ import annotations

import json

from amazon_orders_pipeline.emulator.auth import DATA_ELEMENTS, RDT_TTL
from amazon_orders_pipeline.emulator.errors import ApiError
from amazon_orders_pipeline.emulator.http import Call, operation

RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"


def _bad_request(details: str) -> ApiError:
    return ApiError(400, "InvalidRequest", "Request is missing or has invalid parameters", details)


def create_restricted_data_token(call: Call) -> tuple[int, dict]:
    try:
        body = json.loads(call.request.body or b"null")
    except ValueError:
        raise _bad_request("The body is not JSON.") from None
    resources = body.get("restrictedResources") if isinstance(body, dict) else None
    if not isinstance(resources, list) or not resources or len(resources) > 50:
        raise _bad_request("restrictedResources must list 1 to 50 resources.")
    for r in resources:
        if (not isinstance(r, dict) or r.get("method") not in ("GET", "PUT", "POST", "DELETE")
                or not str(r.get("path", "")).startswith("/")
                or not set(r.get("dataElements") or ()) <= DATA_ELEMENTS):
            raise _bad_request("Resource not provided.")
    if call.state.faults.plan.deny_rdt:
        # The seller has not granted the restricted role this application would need.
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                       "The application does not have the role required for the restricted resource.")
    return 200, {"restrictedDataToken": call.state.issue_rdt(call.seller, resources), "expiresIn": RDT_TTL}


ROUTES = [
    operation("POST", RDT_PATH, "createRestrictedDataToken", create_restricted_data_token,
              rate_header_on=(200, 400, 404, 429, 500, 503)),
]
