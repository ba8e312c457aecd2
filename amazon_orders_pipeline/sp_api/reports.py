"""The Reports API 2021-06-30 for the order tracking and returns reports: request a report, wait for it with backoff,
download its document (a fresh URL when one expired), gunzip, decode by the download's charset. No Dagster."""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from amazon_orders_pipeline.sp_api.documents import DocumentDownloadError, download_document
from amazon_orders_pipeline.sp_api.http import SpApiClient, SpApiError

REPORTS_PATH = "/reports/2021-06-30/reports"
DOCUMENTS_PATH = "/reports/2021-06-30/documents"
BY_LAST_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
BY_ORDER_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
# The returns reports: Amazon-fulfilled (by the date a fulfilment centre processed the unit) and merchant-fulfilled
# (by the return's request date, at most 60 days a report).
FBA_RETURNS = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_RETURNS = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
FINISHED = ("DONE", "CANCELLED", "FATAL")
# Charset names Amazon sends that Python knows by another name; absent, ISO-8859-1 (as HTTP says).
CHARSET_ALIASES = {"windows-31j": "cp932", "x-sjis": "cp932"}
DEFAULT_CHARSET = "iso8859-1"
# Where Amazon (and the reports' users) put the reason in a FATAL report's error document.
REASON_KEYS = ("errorDetails", "errorMessage", "message", "reason")


class ReportError(RuntimeError):
    """A report that could not be had: FATAL (with Amazon's reason when it gave one), or not finished in time."""

    def __init__(self, message: str, report_id: str | None = None, status: str | None = None):
        super().__init__(message)
        self.report_id, self.status = report_id, status


@dataclass(frozen=True)
class Document:
    """A downloaded report document: its bytes as served (gunzipped) and the charset they are in."""

    document_id: str
    content: bytes
    charset: str  # a Python codec name

    def text(self) -> str:
        return self.content.decode(self.charset)


@dataclass(frozen=True)
class Outcome:
    """How a report ended: DONE with its document, or CANCELLED (Amazon found no data for the window)."""

    report_id: str
    status: str
    report: dict
    document: Document | None = None


@dataclass
class Polling:
    first_s: float = 2.0  # the first wait; it doubles up to max_s
    max_s: float = 30.0
    timeout_s: float = 3600.0  # Airbyte's default; Amazon has taken hours on bad days


class ReportsClient:
    """Order tracking reports for one account, through its SP-API client (pacing, retries, tokens)."""

    def __init__(self, client: SpApiClient, *, polling: Polling | None = None,
                 sleep: Callable[[float], None] = time.sleep, download: requests.Session | None = None):
        self.client = client
        self.polling = polling or Polling()
        self._sleep = sleep
        # The pre-signed URL is fetched without SP-API headers, like any S3 URL.
        self._download = download or requests.Session()

    # --- operations -----------------------------------------------------------------------------
    def create(self, report_type: str, marketplace_ids: list[str] | tuple[str, ...], start: datetime,
               end: datetime) -> str:
        body = {"reportType": report_type, "marketplaceIds": list(marketplace_ids),
                "dataStartTime": _iso(start), "dataEndTime": _iso(end)}
        resp = self.client.call("createReport", "POST", REPORTS_PATH, json_body=body)
        report_id = resp.data.get("reportId")
        if not isinstance(report_id, str):
            raise SpApiError("createReport", resp.status, "Unreadable", "no reportId in the response")
        return report_id

    def get(self, report_id: str) -> dict:
        return self.client.call("getReport", "GET", f"{REPORTS_PATH}/{report_id}").data

    def list(self, report_types: list[str], created_since: datetime, statuses: tuple[str, ...] = ("DONE",)
             ) -> list[dict]:
        """Every report of these types created since a moment (Amazon keeps them 90 days), newest first: getReports
        pages of 100, a later page asked with its nextToken alone, as the model says."""
        params: dict[str, str] = {"reportTypes": ",".join(report_types), "processingStatuses": ",".join(statuses),
                                  "createdSince": _iso(created_since), "pageSize": "100"}
        out: list[dict] = []
        while True:
            data = self.client.call("getReports", "GET", REPORTS_PATH, params).data
            out += [r for r in data.get("reports") or [] if isinstance(r, dict)]
            if not data.get("nextToken"):
                return out
            params = {"nextToken": data["nextToken"]}

    def cancel(self, report_id: str) -> None:
        self.client.call("cancelReport", "DELETE", f"{REPORTS_PATH}/{report_id}")

    def wait(self, report_id: str) -> dict:
        """Poll until the report has finished processing (DONE, CANCELLED or FATAL), waiting longer each time."""
        waited, pause = 0.0, self.polling.first_s
        while True:
            report = self.get(report_id)
            if report.get("processingStatus") in FINISHED:
                return report
            if waited >= self.polling.timeout_s:
                raise ReportError(f"report {report_id} still {report.get('processingStatus')} after {waited:.0f} s",
                                  report_id, report.get("processingStatus"))
            self._sleep(pause)
            waited += pause
            pause = min(pause * 2, self.polling.max_s)

    def document(self, document_id: str, *, attempts: int = 3) -> Document:
        """Download a document: getReportDocument for a URL, then the URL itself. A URL lives 5 minutes; one that
        has expired (403) is asked for again, a bounded number of times."""
        try:
            got = download_document(self.client, self._download, "getReportDocument",
                                    f"{DOCUMENTS_PATH}/{document_id}", f"report document {document_id}", attempts)
        except DocumentDownloadError as e:
            raise ReportError(str(e)) from None
        return Document(document_id, got.content, charset_of(got.content_type))

    def fetch(self, report_type: str, marketplace_ids: list[str] | tuple[str, ...], start: datetime,
              end: datetime, *, report_id: str | None = None) -> Outcome:
        """A report from request to document. `report_id`: one requested before (a resumed run polls it again
        instead of asking anew). FATAL raises ReportError with Amazon's reason."""
        report_id = report_id or self.create(report_type, marketplace_ids, start, end)
        report = self.wait(report_id)
        status = report["processingStatus"]
        if status == "FATAL":
            raise ReportError(f"report {report_id} ended FATAL: {self.fatal_reason(report)}", report_id, status)
        if status == "CANCELLED":
            return Outcome(report_id, status, report)
        return Outcome(report_id, status, report, self.document(report["reportDocumentId"]))

    def fatal_reason(self, report: dict) -> str:
        """Amazon's reason for a FATAL report, from its error document when it has one."""
        document_id = report.get("reportDocumentId")
        if not document_id:
            return "no error document"
        text = self.document(document_id).text().strip()
        try:
            data = json.loads(text)
        except ValueError:
            return text[:500] or "an empty error document"
        if isinstance(data, dict):
            for key in REASON_KEYS:
                if isinstance(data.get(key), str):
                    return data[key]
            messages = [e.get("message") for e in data.get("errors") or [] if isinstance(e, dict)]
            if messages:
                return "; ".join(str(m) for m in messages)
        return text[:500]


def charset_of(content_type: str) -> str:
    """The Python codec for a download's `Content-Type` charset (`text/plain;charset=Cp1252` -> cp1252)."""
    for part in content_type.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            value = CHARSET_ALIASES.get(value.strip().strip('"').lower(), value.strip().strip('"'))
            try:
                return codecs.lookup(value).name
            except LookupError:
                break
    return DEFAULT_CHARSET


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
