"""The Feeds API 2021-06-30: upload a feed document, create the feed, poll it, download its processing report.
createFeed is the one call here that would act twice if sent twice; it is never retried blindly (see submit).
No Dagster."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests

from amazon_orders_pipeline.sp_api.documents import DocumentDownloadError, download_document
from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError, UnclearOutcome

FEEDS_PATH = "/feeds/2021-06-30/feeds"
FEED_DOCUMENTS_PATH = "/feeds/2021-06-30/documents"
FINISHED = ("DONE", "CANCELLED", "FATAL")
# How far before a createFeed attempt a feed found by getFeeds may have been created and still be that attempt's
# (Amazon's clock against ours).
CLOCK_SLACK = timedelta(minutes=2)


class FeedError(RuntimeError):
    """A feed that could not be uploaded, submitted or read."""


@dataclass(frozen=True)
class Submitted:
    feed_id: str
    read_back: bool  # found by getFeeds after createFeed's outcome was unclear


class FeedsClient:
    """One account's feeds, through its SP-API client (pacing, retries, tokens)."""

    def __init__(self, client: SpApiClient, *, sleep: Callable[[float], None] = time.sleep,
                 transfer: requests.Session | None = None, attempts: int = 3):
        self.client = client
        self._sleep = sleep
        # The pre-signed URLs are S3's: no SP-API headers.
        self._transfer = transfer or requests.Session()
        self._attempts = attempts

    def upload(self, content: bytes, content_type: str) -> str:
        """createFeedDocument, then the PUT of the bytes to its URL (retried: a PUT of the same bytes is the same
        object). Returns the feedDocumentId."""
        meta = self.client.call("createFeedDocument", "POST", FEED_DOCUMENTS_PATH,
                                json_body={"contentType": content_type}).data
        document_id, url = meta.get("feedDocumentId"), meta.get("url")
        if not isinstance(document_id, str) or not isinstance(url, str):
            raise SpApiError("createFeedDocument", 201, "Unreadable", "no feedDocumentId and url in the response")
        last = ""
        for attempt in range(self._attempts):
            try:
                resp = self._transfer.put(url, data=content, headers={"Content-Type": content_type},
                                          timeout=self.client.retry.timeout_s)
            except requests.RequestException as e:
                last = type(e).__name__
            else:
                if resp.status_code == 200:
                    return document_id
                last = f"HTTP {resp.status_code} {resp.text[:120]}"
                if resp.status_code < 500:
                    break
            self._sleep(min(2.0 ** attempt, 10.0))
        raise FeedError(f"feed document {document_id} could not be uploaded: {last}")

    def submit(self, feed_type: str, marketplace_ids: list[str], document_id: str, attempt_started: datetime,
               known: set[str]) -> Submitted:
        """createFeed, exactly once. When its outcome is unclear, getFeeds is read first: a feed of this type created
        since `attempt_started` (Amazon's clock, less the slack) and not among the `known` feed ids (the caller's
        earlier feeds) is taken as this one, and the feed is sent again only when there is none. getFeeds does not
        name a feed's input document, so this holds while one writer submits this feed type for the account at a
        time, which the caller ensures (one write-back run at a time)."""
        body = {"feedType": feed_type, "marketplaceIds": list(marketplace_ids), "inputFeedDocumentId": document_id}
        for _ in range(self._attempts):
            try:
                data = self.client.call("createFeed", "POST", FEEDS_PATH, json_body=body, idempotent=False).data
            except UnclearOutcome:
                found = [f for f in self.find(feed_type, attempt_started - CLOCK_SLACK) if f["feedId"] not in known]
                if found:
                    return Submitted(found[-1]["feedId"], read_back=True)  # the oldest since: the first attempt's
                continue
            feed_id = data.get("feedId")
            if not isinstance(feed_id, str):
                raise SpApiError("createFeed", 202, "Unreadable", "no feedId in the response")
            return Submitted(feed_id, read_back=False)
        raise FeedError(f"createFeed's outcome stayed unclear after {self._attempts} attempts and getFeeds found "
                        "no feed: nothing was submitted")

    def find(self, feed_type: str, since: datetime) -> list[dict]:
        """The account's feeds of a type created since a moment, newest first."""
        params = {"feedTypes": feed_type, "createdSince": _iso(since), "pageSize": "100"}
        return list(self.client.call("getFeeds", "GET", FEEDS_PATH, params).data.get("feeds") or [])

    def get(self, feed_id: str) -> dict:
        return self.client.call("getFeed", "GET", f"{FEEDS_PATH}/{feed_id}").data

    def result(self, document_id: str) -> bytes:
        """The processing report: getFeedDocument for a URL (it lives 5 minutes), then the URL."""
        try:
            return download_document(self.client, self._transfer, "getFeedDocument",
                                     f"{FEED_DOCUMENTS_PATH}/{document_id}", f"feed result document {document_id}",
                                     self._attempts).content
        except DocumentDownloadError as e:
            raise FeedError(str(e)) from None


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
