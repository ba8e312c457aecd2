"""Downloading a document Amazon serves through a short-lived presigned URL: a report's document (Reports API) and a
feed's processing report (Feeds API) alike. The API call gives a URL that lives 5 minutes and says whether the bytes
are gzip; the URL itself is plain HTTPS, outside the SP-API's auth and quotas."""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import requests

from amazon_orders_pipeline.sp_api.http import SpApiClient


class DocumentDownloadError(RuntimeError):
    """No attempt got the document."""


@dataclass(frozen=True)
class Downloaded:
    content: bytes  # decompressed
    content_type: str  # the download's Content-Type header


def download_document(client: SpApiClient, transfer: requests.Session, operation: str, path: str, what: str,
                      attempts: int = 3) -> Downloaded:
    """`operation` on `path` for the URL, then the URL. An expired URL (403), a server error or a broken connection
    asks for a fresh URL, at most `attempts` times; another answer (404, ...) fails at once."""
    last = ""
    for _ in range(attempts):
        meta = client.call(operation, "GET", path).data
        try:
            resp = transfer.get(meta["url"], timeout=client.retry.timeout_s)
        except (requests.RequestException, KeyError) as e:
            last = type(e).__name__
            continue
        if resp.status_code == 403 or resp.status_code >= 500:
            last = f"HTTP {resp.status_code} {resp.text[:120]}"
            continue
        if resp.status_code != 200:
            raise DocumentDownloadError(f"{what}: the download answered HTTP {resp.status_code}")
        content = resp.content
        # Decompress when the document says GZIP and the bytes are gzip (an HTTP client may have inflated them
        # already, when Content-Encoding said gzip).
        if meta.get("compressionAlgorithm") == "GZIP" and content[:2] == b"\x1f\x8b":
            content = gzip.decompress(content)
        return Downloaded(content, resp.headers.get("Content-Type", ""))
    raise DocumentDownloadError(f"{what} could not be downloaded: {last}")
