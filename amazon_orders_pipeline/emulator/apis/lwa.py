"""Login with Amazon's token endpoint: a seller's access token from its refresh token, or an application's
grantless token (client_credentials) for the Notifications API's destinations."""

from __future__ import annotations

from urllib.parse import parse_qs

from amazon_orders_pipeline.emulator.auth import ACCESS_TOKEN_TTL
from amazon_orders_pipeline.emulator.http import Call, Reply, plain

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"


def token(call: Call) -> Reply:
    form = parse_qs(call.request.body.decode("utf-8", "replace"))
    get = lambda k: (form.get(k) or [""])[0]  # noqa: E731
    call.state.stats["lwa.calls"] += 1
    if get("grant_type") == "client_credentials":
        if not (get("client_id") and get("client_secret")):
            return _refused("invalid_request", "client_id and client_secret are required")
        if get("scope") != NOTIFICATIONS_SCOPE:
            return _refused("invalid_scope", f"scope must be {NOTIFICATIONS_SCOPE}")
        issued = call.state.issue_token(None)
        return Reply(200, {"access_token": issued, "token_type": "bearer", "expires_in": ACCESS_TOKEN_TTL})
    if get("grant_type") != "refresh_token":
        return _refused("unsupported_grant_type",
                        "Only the refresh_token and client_credentials grants are emulated.")
    if not (get("client_id") and get("client_secret") and get("refresh_token")):
        return _refused("invalid_request", "client_id, client_secret and refresh_token are required")
    issued = call.state.issue_token(get("refresh_token"))
    return Reply(200, {"access_token": issued, "token_type": "bearer", "expires_in": ACCESS_TOKEN_TTL,
                       "refresh_token": get("refresh_token")})


def _refused(error: str, description: str) -> Reply:
    return Reply(400, {"error": error, "error_description": description})


ROUTES = [plain("POST", r"/auth/o2/token", token)]
