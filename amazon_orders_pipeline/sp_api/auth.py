"""Login with Amazon: exchanges a refresh token for access tokens and caches them until shortly before expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

# Refresh this long before `expires_in` runs out, so no call goes out with a token about to die.
EXPIRY_MARGIN_S = 60.0


class AuthError(RuntimeError):
    """LWA refused the credentials. The message never contains them."""


@dataclass(frozen=True)
class LwaCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret, self.refresh_token)


class CachedToken:
    """A token fetched on first use, reused until `EXPIRY_MARGIN_S` before its lifetime ends, and fetched afresh
    after the API rejected it. Thread-safe. Subclasses say how to fetch one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.refreshes = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                token, lifetime = self._fetch()
                self._token, self._expires_at = token, self._clock() + max(0.0, lifetime - EXPIRY_MARGIN_S)
                self.refreshes += 1
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` after the API rejected it; a newer one fetched meanwhile is kept."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        """A new token and its lifetime in seconds."""
        raise NotImplementedError


class LwaAuth(CachedToken):
    """A cached LWA access token for one set of credentials."""

    def __init__(self, token_url: str, credentials: LwaCredentials, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.monotonic, timeout: float = 30.0):
        super().__init__(clock)
        self.token_url = token_url
        self._credentials = credentials
        self._session = session or requests.Session()
        self._timeout = timeout

    def _form(self) -> dict[str, str]:
        c = self._credentials
        return {"grant_type": "refresh_token", "refresh_token": c.refresh_token, "client_id": c.client_id,
                "client_secret": c.client_secret}

    def _fetch(self) -> tuple[str, float]:
        try:
            resp = self._session.post(
                self.token_url,
                data=self._form(),
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
                timeout=self._timeout,
            )
        except requests.RequestException as e:
            raise AuthError(f"LWA token request to {self.token_url} failed: {type(e).__name__}") from None
        if resp.status_code != 200:
            try:
                reason = resp.json().get("error", "unknown_error")
            except ValueError:
                reason = "unreadable response"
            raise AuthError(f"LWA refused the token request ({resp.status_code} {reason})")
        data = resp.json()
        return data["access_token"], float(data.get("expires_in", 3600))


class GrantlessAuth(LwaAuth):
    """An application's own token for grantless operations (the Notifications API's destinations): LWA's
    client_credentials grant with the operation's scope, and no seller's refresh token."""

    def __init__(self, token_url: str, credentials: LwaCredentials, scope: str, **kwargs):
        super().__init__(token_url, credentials, **kwargs)
        self.scope = scope

    def _form(self) -> dict[str, str]:
        c = self._credentials
        return {"grant_type": "client_credentials", "scope": self.scope, "client_id": c.client_id,
                "client_secret": c.client_secret}
