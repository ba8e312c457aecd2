"""Who a token belongs to: LWA access tokens, grantless tokens and restricted data tokens, and the seller a refresh
token stands for."""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import datetime, timedelta

from amazon_orders_pipeline.emulator.errors import ApiError

ACCESS_TOKEN_TTL = 3600
RDT_TTL = 3600
# In a caller's grant: it authorised with an RDT (operations restricted as a whole, such as getOrderAddress, need
# no data elements, only the token).
RDT_GRANT = "restrictedDataToken"
# The caller of a grantless operation: an application, not a seller (LWA's client_credentials grant).
GRANTLESS = "grantless"
# Restricted data elements an RDT can grant for getOrders / getOrderItems.
DATA_ELEMENTS = {"buyerInfo", "shippingAddress", "buyerTaxInformation"}


def seller_key(refresh_token: str) -> str:
    """The synthetic seller behind a refresh token (a hash, so the token itself is never kept as data)."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


def rdt_grant(resources: list[dict], method: str, path: str) -> frozenset[str] | None:
    """The data elements an RDT's resources grant for one request, or None when none of them covers it. A resource
    path may be generic, with `{orderId}` standing for any order id."""
    parts = path.strip("/").split("/")
    for r in resources:
        pattern = r["path"].strip("/").split("/")
        if r["method"] != method or len(pattern) != len(parts):
            continue
        if all(p == q or p == "{orderId}" for p, q in zip(pattern, parts, strict=True)):
            return frozenset(r.get("dataElements") or ())
    return None


def denied() -> ApiError:
    return ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                    "The access token you provided is revoked, malformed or invalid.")


class Tokens:
    """Every token handed out, with its caller and expiry. `issued` keeps each one, for tests that scan for leaks."""

    def __init__(self) -> None:
        self._access: dict[str, tuple[str, datetime]] = {}
        self._rdts: dict[str, tuple[str, datetime, list[dict]]] = {}
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def issue_access(self, refresh_token: str | None, now: datetime) -> str:
        """An access token for a seller (its refresh token), or a grantless one (None)."""
        token = "Atza|emu-" + secrets.token_urlsafe(24)
        caller = GRANTLESS if refresh_token is None else seller_key(refresh_token)
        with self._lock:
            self._access[token] = (caller, now + timedelta(seconds=ACCESS_TOKEN_TTL))
            self.issued.append(token)
        return token

    def issue_rdt(self, seller: str, resources: list[dict], now: datetime) -> str:
        token = "Atz.sprdt|emu-" + secrets.token_urlsafe(24)
        with self._lock:
            self._rdts[token] = (seller, now + timedelta(seconds=RDT_TTL), resources)
            self.issued.append(token)
        return token

    def caller(self, token: str | None, method: str, path: str, now: datetime,
               allow_rdt: bool) -> tuple[str, frozenset[str]]:
        """The seller behind a token, and what it grants for this request: nothing for an LWA token; for an RDT that
        covers the operation, its data elements plus RDT_GRANT. Anything else is a 403."""
        entry = self._access.get(token or "")
        grant: frozenset[str] = frozenset()
        if entry is None:
            rdt = self._rdts.get(token or "") if allow_rdt else None
            if rdt is None or rdt[1] <= now:
                raise denied()
            covered = rdt_grant(rdt[2], method, path)
            if covered is None:
                raise denied()
            entry, grant = (rdt[0], rdt[1]), covered | {RDT_GRANT}
        if entry[1] <= now:
            raise denied()
        return entry[0], grant

    def revoke(self, token: str | None) -> None:
        with self._lock:
            self._access.pop(token or "", None)
            self._rdts.pop(token or "", None)
