"""The Reports client against the emulator: request, wait, download, decode; FATAL, CANCELLED, expired URLs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import requests

from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.sp_api import LwaCredentials, RetryPolicy, SpApiClient
from amazon_orders_pipeline.sp_api.reports import (
    BY_LAST_UPDATE,
    Polling,
    ReportError,
    ReportsClient,
    charset_of,
)
from amazon_orders_pipeline.testing.control import EmulatorControl

EU = ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]


@pytest.fixture
def emulator():
    with Emulator(speed=1000, seed=13, orders_per_day=200, report_processing_s=60) as emu:
        yield emu


def reports_client(emulator: Emulator, refresh: str, **kwargs) -> ReportsClient:
    client = SpApiClient.for_credentials(emulator.url, f"{emulator.url}/auth/o2/token",
                                         LwaCredentials("c", "s", refresh), retry=RetryPolicy(base_delay_s=0.01))
    return ReportsClient(client, polling=Polling(first_s=0.01, max_s=0.05, timeout_s=30), **kwargs)


def days_ago(n: int) -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=n)


def test_a_report_from_request_to_decoded_rows_equals_the_ground_truth(emulator):
    reports = reports_client(emulator, "Atzr|client-eu")
    start, end = days_ago(5), days_ago(2)
    outcome = reports.fetch(BY_LAST_UPDATE, ["A1PA6795UKMFR9"], start, end)
    assert outcome.status == "DONE" and outcome.document.charset == "cp1252"
    rows = list(csv.DictReader(io.StringIO(outcome.document.text()), delimiter="\t"))
    truth = EmulatorControl(emulator).ground_truth("Atzr|client-eu", start, end, EU)
    assert {r["amazon-order-id"] for r in rows} == {o["orderId"] for o in truth}
    assert reports.client.stats.calls >= 3  # createReport, getReport (polled), getReportDocument


def test_a_resumed_fetch_polls_the_report_it_asked_for_instead_of_asking_again(emulator):
    reports = reports_client(emulator, "Atzr|client-resume")
    report_id = reports.create(BY_LAST_UPDATE, EU, days_ago(4), days_ago(3))
    before = EmulatorControl(emulator).stats()["createReport.calls"]
    outcome = reports.fetch(BY_LAST_UPDATE, EU, days_ago(4), days_ago(3), report_id=report_id)
    assert outcome.report_id == report_id and outcome.status == "DONE"
    assert EmulatorControl(emulator).stats()["createReport.calls"] == before


def test_fatal_raises_with_amazons_reason_and_cancelled_is_an_empty_window(emulator):
    reports = reports_client(emulator, "Atzr|client-outcomes")
    with pytest.raises(ReportError, match="Date range exceeded") as fatal:
        reports.fetch(BY_LAST_UPDATE, EU, days_ago(45), days_ago(2))
    assert fatal.value.status == "FATAL" and fatal.value.report_id
    empty = reports.fetch(BY_LAST_UPDATE, EU, days_ago(1000), days_ago(990))
    assert empty.status == "CANCELLED" and empty.document is None


def test_an_expired_url_is_asked_for_again(emulator):
    control = EmulatorControl(emulator)

    class LateSession(requests.Session):
        """Reaches the URL only after it has expired, the first time (a slow network, a paused process)."""

        late = True

        def get(self, url, **kwargs):
            if self.late:
                self.late = False
                control.set_clock(datetime.now(UTC) + timedelta(minutes=6))
            return super().get(url, **kwargs)

    reports = reports_client(emulator, "Atzr|client-late", download=LateSession())
    outcome = reports.fetch(BY_LAST_UPDATE, EU, days_ago(4), days_ago(3))
    assert outcome.status == "DONE" and outcome.document.content.startswith(b"amazon-order-id")
    assert control.stats()["getReportDocument.200"] == 2  # the first URL expired; the second one worked


def test_a_refused_download_fails_at_once_and_a_url_that_stays_expired_fails_after_its_attempts(emulator):
    """A document's URL that answers 404 (not a fresh-URL case) fails at once; one that keeps expiring is asked for
    again only a bounded number of times. The Feeds client's result document shares this download."""
    control = EmulatorControl(emulator)

    class Refused(requests.Session):
        def get(self, url, **kwargs):  # a URL that was never a document's
            return super().get(f"{emulator.url}/no-such-document", **kwargs)

    class AlwaysLate(requests.Session):
        late = 0

        def get(self, url, **kwargs):  # each URL reached 6 minutes after the last one was
            self.late += 6
            control.set_clock(datetime.now(UTC) + timedelta(minutes=self.late))
            return super().get(url, **kwargs)

    done = reports_client(emulator, "Atzr|client-refused").fetch(BY_LAST_UPDATE, EU, days_ago(4), days_ago(3))
    document_id = done.document.document_id
    before = control.stats()["getReportDocument.200"]
    with pytest.raises(ReportError, match="answered HTTP 404"):
        reports_client(emulator, "Atzr|client-refused", download=Refused()).document(document_id)
    assert control.stats()["getReportDocument.200"] == before + 1
    with pytest.raises(ReportError, match="could not be downloaded: HTTP 403"):
        reports_client(emulator, "Atzr|client-refused", download=AlwaysLate()).document(document_id, attempts=2)
    assert control.stats()["getReportDocument.200"] == before + 3


def test_charsets_are_read_from_the_content_type():
    assert charset_of("text/plain;charset=Cp1252") == "cp1252"
    assert charset_of("text/plain; charset=UTF-8") == "utf-8"
    assert charset_of('text/plain; charset="windows-31j"') == "cp932"
    assert charset_of("text/plain") == "iso8859-1"
    assert charset_of("text/plain; charset=not-a-charset") == "iso8859-1"
