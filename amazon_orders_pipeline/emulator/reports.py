"""The Reports API 2021-06-30 for the order tracking reports: requests that take time to process, and their documents
as Amazon writes them (gzipped TSV at line grain, Amazon's vocabulary, the region's charset, a 5-minute URL)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import multiprocessing
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from amazon_orders_pipeline.emulator.errors import ApiError, invalid, json_object, s3_error
from amazon_orders_pipeline.emulator.query import listing_page, resume_listing, spec_time
from amazon_orders_pipeline.emulator.query import multi as _multi
from amazon_orders_pipeline.emulator.query import single as _single
from amazon_orders_pipeline.emulator.report_documents import (
    CHARSETS,
    SUPPORTED_TYPES,
    document_job,
    iso_offset,
    make_any_document,
    start_worker,
    worker_document,
)
from amazon_orders_pipeline.sp_api.marketplaces import region_of

log = logging.getLogger(__name__)
REPORTS_PATH = "/reports/2021-06-30/reports"
DOCUMENTS_PATH = "/reports/2021-06-30/documents"
# Where the "pre-signed" document URLs point: on the emulator, with no SP-API authorisation, as S3's are.
DOWNLOAD_PATH = "/_emulator/report-documents/"

STATUSES = ("IN_QUEUE", "IN_PROGRESS", "DONE", "CANCELLED", "FATAL")

URL_TTL = timedelta(minutes=5)
METADATA_TTL = timedelta(days=90)
# How long Amazon takes to process a report, in Amazon's seconds (divided by the emulator's speed).
DEFAULT_PROCESSING_S = 60.0


@dataclass
class ReportRequest:
    report_id: str
    seller: str
    report_type: str
    start: datetime
    end: datetime
    marketplace_ids: list[str]
    region: str
    created: datetime
    processing: timedelta  # emulated time from IN_QUEUE to the end of processing
    fatal: bool = False  # an injected FATAL
    cancelled_at: datetime | None = None
    outcome: str | None = None  # DONE, CANCELLED or FATAL, fixed when processing ends
    document_id: str | None = None
    prepared: tuple[bytes | None, str] | None = None  # (content, outcome), made in the background

    def status(self, now: datetime) -> tuple[str, datetime | None, datetime | None]:
        """(processingStatus, processingStartTime, processingEndTime) as of `now`."""
        if self.cancelled_at is not None:
            return "CANCELLED", None, self.cancelled_at
        started = self.created + self.processing / 3
        ended = self.created + self.processing
        if now < started:
            return "IN_QUEUE", None, None
        if now < ended:
            return "IN_PROGRESS", started, None
        return self.outcome or "DONE", started, ended


@dataclass(frozen=True)
class Document:
    seller: str
    content: bytes  # gzipped
    charset: str


class Reports:
    """Every seller's report requests and documents. Outcomes are those of the seller's orders as of the moment
    processing ends: CANCELLED when the window holds none, FATAL for a window over 30 days (with an error document)
    or when injected, DONE otherwise. A worker thread makes each document while its report processes, one report
    at a time in the order asked (consecutive windows then share the seller's cached days); a report whose document
    is not made by the end of its processing time stays IN_PROGRESS until it is, as Amazon's do on a busy day."""

    def __init__(self, state, processing_s: float = DEFAULT_PROCESSING_S, workers: int = 0):
        """`workers` > 0: documents are made in that many processes of their own, side by side, as Amazon makes
        them on its servers; each rebuilds the synthetic seller from its seed (a seller's orders are a function of
        the seed and the moment, so the documents are the same)."""
        self.state = state
        self.processing_s = processing_s
        self._pool = None if workers <= 0 else ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=start_worker,
            initargs=(state.seller.seed, state.seller.orders_per_day))
        self._requests: dict[str, ReportRequest] = {}
        self._documents: dict[str, Document] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._queue: queue.Queue[ReportRequest] = queue.Queue()
        self._worker: threading.Thread | None = None
        # Reports Amazon makes by itself (emulator/settlements.py): listed, read and downloaded here, never created.
        self.generated: list = []

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # --- operations -----------------------------------------------------------------------------
    def create(self, seller: str, raw: bytes) -> tuple[int, dict]:
        spec = json_object(raw or b"{}", "a CreateReportSpecification")
        report_type = spec.get("reportType")
        for source in self.generated:
            source.refuse(report_type)
        if report_type not in SUPPORTED_TYPES:
            raise invalid(f"reportType {report_type!r} is not supported by this emulator: {SUPPORTED_TYPES}")
        marketplaces = spec.get("marketplaceIds")
        if not isinstance(marketplaces, list) or not 1 <= len(marketplaces) <= 25:
            raise invalid("marketplaceIds must list 1 to 25 marketplace ids")
        # Reports are regional like the Orders API: the file holds the whole region, whatever is asked.
        region_marketplaces = self.state.regional_marketplaces(seller, [str(m) for m in marketplaces])
        region = region_of(next(iter(region_marketplaces)))
        now = self.state.clock.now()
        start = spec_time(spec, "dataStartTime", now)
        end = spec_time(spec, "dataEndTime", now)
        if end > now:
            raise invalid("dataEndTime must be prior to or equal to the current date and time")
        if start > end:
            raise invalid("dataStartTime must be prior to dataEndTime")
        with self._lock:
            self._counter += 1
            report_id = str(50_000_000_000 + self._counter)
            request = ReportRequest(
                report_id=report_id, seller=seller, report_type=report_type, start=start, end=end,
                marketplace_ids=[str(m) for m in marketplaces], region=region, created=now,
                processing=timedelta(seconds=self.processing_s / self.state.speed),
                fatal=self.state.faults.report_fatal())
            self._requests[report_id] = request
            if self._worker is None:
                self._worker = threading.Thread(target=self._prepare_forever, name="emulator-reports", daemon=True)
                self._worker.start()
        self._queue.put(request)
        return 202, {"reportId": report_id}

    def get(self, seller: str, report_id: str) -> tuple[int, dict]:
        # A requested report first: polling one must not make Amazon's own reports (a settlement is a quarter's
        # money; making them for every poll stalled the emulator under a backfill's order reports).
        with self._lock:
            requested = self._requests.get(report_id)
        if requested is None:
            for source in self.generated:
                if (body := source.report(seller, report_id, self.state.clock.now())) is not None:
                    return 200, body
        return 200, self._report(self._request(seller, report_id))

    def search(self, seller: str, params: dict[str, list[str]]) -> tuple[int, dict]:
        params, offset = resume_listing(params)
        types = _multi(params, "reportTypes")
        statuses = _multi(params, "processingStatuses")
        if types and not 1 <= len(types) <= 10:
            raise invalid("reportTypes takes 1 to 10 values")
        if bad := [s for s in statuses if s not in STATUSES]:
            raise invalid(f"invalid processingStatuses: {bad}")
        now = self.state.clock.now()
        since = spec_time({"t": _single(params, "createdSince")}, "t", now - METADATA_TTL)
        with self._lock:
            mine = [r for r in self._requests.values() if r.seller == seller and r.created >= since
                    and now - r.created <= METADATA_TTL and (not types or r.report_type in types)]
        reports = [self._report(r) for r in sorted(mine, key=lambda r: r.created, reverse=True)]
        reports += [b for source in self.generated if not types or set(types) & source.report_types()
                    for b in source.reports(seller, now) if b["createdTime"] >= iso_offset(since)
                    and (not types or b["reportType"] in types)]
        reports.sort(key=lambda r: r["createdTime"], reverse=True)
        reports = [r for r in reports if not statuses or r["processingStatus"] in statuses]
        return 200, listing_page(reports, "reports", params, offset)

    def cancel(self, seller: str, report_id: str) -> tuple[int, dict | None]:
        request = self._request(seller, report_id)
        now = self.state.clock.now()
        status = request.status(now)[0]
        if status != "IN_QUEUE":
            raise invalid(f"Report {report_id} is {status}; only a report IN_QUEUE can be cancelled")
        request.cancelled_at = now
        return 200, None

    def document(self, seller: str, document_id: str, base_url: str, params: dict[str, list[str]]) -> tuple[int, dict]:
        with self._lock:
            doc = self._documents.get(document_id)
        for source in self.generated if doc is None else ():
            if (made := source.document(seller, document_id, self.state.clock.now())) is not None:
                doc = Document(seller, *made)
                with self._lock:
                    self._documents[document_id] = doc
        if doc is None or doc.seller != seller:
            raise ApiError(404, "NotFound", f"Report document {document_id} was not found.")
        expires = self.state.clock.now() + URL_TTL
        encoding = (_single(params, "enableContentEncodingUrlHeader") or "").lower() == "true"
        token = base64.urlsafe_b64encode(json.dumps(
            {"d": document_id, "x": expires.isoformat(), "e": encoding}).encode()).decode().rstrip("=")
        return 200, {"reportDocumentId": document_id, "url": f"{base_url}{DOWNLOAD_PATH}{token}",
                     "compressionAlgorithm": "GZIP"}

    def download(self, token: str) -> tuple[int, bytes, dict[str, str]]:
        """The pre-signed URL: the document's bytes until it expires, then S3's 403."""
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            expires = datetime.fromisoformat(data["x"])
        except (ValueError, KeyError):
            return 403, s3_error("SignatureDoesNotMatch", "The request signature we calculated does not match."), {}
        if self.state.clock.now() > expires:
            return 403, s3_error("AccessDenied", "Request has expired"), {}
        with self._lock:
            doc = self._documents.get(data["d"])
        if doc is None:
            return 404, s3_error("NoSuchKey", "The specified key does not exist."), {}
        headers = {"Content-Type": f"text/plain;charset={doc.charset}",
                   "Content-Encoding": "gzip" if data.get("e") else "identity"}
        return 200, doc.content, headers

    # --- internals ------------------------------------------------------------------------------
    def _request(self, seller: str, report_id: str) -> ReportRequest:
        with self._lock:
            request = self._requests.get(report_id)
        # reportId is unique only with a seller id: another seller's report is not found.
        if request is None or request.seller != seller:
            raise ApiError(404, "NotFound", f"Report {report_id} was not found.")
        return request

    def _report(self, request: ReportRequest) -> dict:
        now = self.state.clock.now()
        status, started, ended = request.status(now)
        if ended is not None and request.outcome is None and request.cancelled_at is None:
            if request.prepared is None:
                status, ended = "IN_PROGRESS", None  # processing time is up, the document is not made yet
            else:
                self._finish(request)
                status = request.outcome
        body = {"reportId": request.report_id, "reportType": request.report_type,
                "dataStartTime": iso_offset(request.start), "dataEndTime": iso_offset(request.end),
                "marketplaceIds": request.marketplace_ids, "createdTime": iso_offset(request.created),
                "processingStatus": status}
        if started:
            body["processingStartTime"] = iso_offset(started)
        if ended:
            body["processingEndTime"] = iso_offset(ended)
        if request.document_id and status in ("DONE", "FATAL"):
            body["reportDocumentId"] = request.document_id
        return body

    def _prepare_forever(self) -> None:
        while True:
            request = self._queue.get()
            if request.cancelled_at is not None:
                continue
            job = document_job(request)
            if isinstance(job, tuple):  # FATAL: nothing to make
                request.prepared = job
            elif self._pool is None:
                request.prepared = self._safely(request, lambda job=job: make_any_document(self.state, job))
            else:
                self._pool.submit(worker_document, job).add_done_callback(
                    lambda future, request=request: setattr(
                        request, "prepared", self._safely(request, future.result)))

    @staticmethod
    def _safely(request: ReportRequest, make) -> tuple[bytes | None, str]:
        try:
            return make()
        except Exception as e:  # an emulator bug must not leave every later report IN_PROGRESS for ever
            log.exception("report %s could not be made", request.report_id)
            return gzip.compress(json.dumps({"errorDetails": f"emulator: {e}"}).encode(), mtime=0), "FATAL"

    def _finish(self, request: ReportRequest) -> None:
        """Processing has ended: the prepared document is served from now on."""
        content, outcome = request.prepared
        document_id = f"amzn1.spdoc.1.4.na.{hashlib.sha256(request.report_id.encode()).hexdigest()[:32]}"
        with self._lock:
            if request.outcome is not None:
                return
            if content is not None:
                self._documents[document_id] = Document(request.seller, content, CHARSETS[request.region][0])
                request.document_id = document_id
            request.outcome = outcome
