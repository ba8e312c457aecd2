"""The emulator's Reports API against Amazon's Reports model: requests that take time, outcomes, documents as Amazon
writes them (gzipped TSV, its vocabulary and charsets, split rows, header variants), the 5-minute URL, quotas."""

from __future__ import annotations

import csv
import gzip
import io
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from amazon_orders_pipeline.emulator.report_documents import BY_LAST_UPDATE, BY_ORDER_DATE, WINDOW_TOO_LONG
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.sp_api.reports import charset_of
from amazon_orders_pipeline.testing.conformance import token, validate
from amazon_orders_pipeline.testing.control import EmulatorControl

from .spapi_models import load as load_model

REPORTS = "/reports/2021-06-30/reports"
EU = ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]


@pytest.fixture(scope="module")
def reports_model() -> dict:
    return load_model("reports_2021-06-30.json")


@pytest.fixture
def emulator():
    # Processing takes 30 Amazon-seconds: 0.03 s here, so a report is DONE almost at once.
    with Emulator(speed=1000, seed=11, orders_per_day=300, report_processing_s=30) as emu:
        yield emu


class Client:
    """One seller talking to the Reports API over HTTP."""

    def __init__(self, emulator: Emulator, refresh: str):
        self.url = emulator.url
        self.headers = {"x-amz-access-token": token(emulator.url, refresh)}
        self.refresh = refresh

    def create(self, report_type=BY_LAST_UPDATE, marketplaces=("A1PA6795UKMFR9",), start=None, end=None):
        body = {"reportType": report_type, "marketplaceIds": list(marketplaces)}
        if start:
            body["dataStartTime"] = start.isoformat()
        if end:
            body["dataEndTime"] = end.isoformat()
        return requests.post(f"{self.url}{REPORTS}", headers=self.headers, json=body, timeout=30)

    def report(self, report_id: str) -> requests.Response:
        return requests.get(f"{self.url}{REPORTS}/{report_id}", headers=self.headers, timeout=30)

    def finished(self, report_id: str) -> dict:
        for _ in range(600):
            body = self.report(report_id).json()
            if body["processingStatus"] not in ("IN_QUEUE", "IN_PROGRESS"):
                return body
            time.sleep(0.05)
        raise AssertionError(f"report {report_id} did not finish")

    def document(self, document_id: str) -> requests.Response:
        return requests.get(f"{self.url}/reports/2021-06-30/documents/{document_id}", headers=self.headers,
                            timeout=30)

    def download(self, document_id: str) -> tuple[str, list[dict[str, str]], requests.Response]:
        """The document's header charset, its rows by column name, and the raw download."""
        url = self.document(document_id).json()["url"]
        resp = requests.get(url, timeout=30)  # no SP-API headers: a pre-signed URL
        charset = resp.headers["Content-Type"].split("charset=")[1]
        text = gzip.decompress(resp.content).decode(charset_of(resp.headers["Content-Type"]))
        return charset, list(csv.DictReader(io.StringIO(text), delimiter="\t")), resp


def days_ago(n: int) -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=n)


def test_every_operation_and_outcome_validates_against_the_reports_model(emulator, reports_model):
    seller = Client(emulator, "Atzr|reports-model")
    created = seller.create(start=days_ago(5), end=days_ago(3))
    assert created.status_code == 202 and float(created.headers["x-amzn-RateLimit-Limit"]) > 0
    validate(reports_model, "CreateReportResponse", created.json())
    report = seller.finished(created.json()["reportId"])
    validate(reports_model, "Report", report)
    assert report["processingStatus"] == "DONE" and report["reportDocumentId"]
    document = seller.document(report["reportDocumentId"])
    validate(reports_model, "ReportDocument", document.json())
    assert document.json()["compressionAlgorithm"] == "GZIP"
    listed = requests.get(f"{emulator.url}{REPORTS}", headers=seller.headers, timeout=30,
                          params={"reportTypes": BY_LAST_UPDATE, "processingStatuses": "DONE"})
    validate(reports_model, "GetReportsResponse", listed.json())
    assert [r["reportId"] for r in listed.json()["reports"]] == [report["reportId"]]
    for bad in (seller.create(report_type="GET_NOT_A_REPORT"), seller.create(marketplaces=[]),
                seller.create(start=days_ago(2), end=datetime.now(UTC) + timedelta(hours=1)),
                seller.report("999"), seller.document("amzn1.spdoc.nope")):
        assert bad.status_code in (400, 404)
        validate(reports_model, "ErrorList", bad.json())
    # reportId is unique per seller only: another seller does not find it.
    assert Client(emulator, "Atzr|reports-other").report(report["reportId"]).status_code == 404


def test_processing_takes_time_and_can_be_cancelled_only_while_queued(emulator):
    control = EmulatorControl(emulator)
    emulator.backends.reports.processing_s = 600_000  # 600 s of real time at speed 1000
    seller = Client(emulator, "Atzr|reports-time")
    first = seller.create(start=days_ago(4), end=days_ago(3)).json()["reportId"]
    second = seller.create(start=days_ago(5), end=days_ago(4)).json()["reportId"]
    assert seller.report(first).json()["processingStatus"] == "IN_QUEUE"
    cancel = requests.delete(f"{emulator.url}{REPORTS}/{second}", headers=seller.headers, timeout=30)
    assert cancel.status_code == 200 and seller.report(second).json()["processingStatus"] == "CANCELLED"
    now = datetime.now(UTC)
    control.set_clock(now + timedelta(seconds=300))
    running = seller.report(first).json()
    assert running["processingStatus"] == "IN_PROGRESS" and "processingStartTime" in running
    refused = requests.delete(f"{emulator.url}{REPORTS}/{first}", headers=seller.headers, timeout=30)
    assert refused.status_code == 400
    control.set_clock(now + timedelta(seconds=700))
    done = seller.report(first).json()
    assert done["processingStatus"] == "DONE" and done["processingEndTime"] and done["reportDocumentId"]


def test_the_document_holds_the_whole_region_and_equals_the_ground_truth(emulator):
    seller = Client(emulator, "Atzr|reports-truth")
    start, end = days_ago(6), days_ago(3)
    report = seller.finished(seller.create(start=start, end=end).json()["reportId"])  # DE asked: UK comes too
    charset, rows, resp = seller.download(report["reportDocumentId"])
    assert charset == "Cp1252" and resp.headers["Content-Encoding"] == "identity"
    truth = EmulatorControl(emulator).ground_truth(seller.refresh, start, end, EU)
    assert {r["amazon-order-id"] for r in rows} == {o["orderId"] for o in truth}
    assert {r["sales-channel"] for r in rows} == {"Amazon.co.uk", "Amazon.de"}
    lines = defaultdict(lambda: [0, Decimal(0)])
    for r in rows:
        key = (r["amazon-order-id"], r["sku"])
        lines[key][0] += int(r["quantity"])
        lines[key][1] += Decimal(r["item-price"] or "0")
    want = defaultdict(lambda: [0, Decimal(0)])
    for o in truth:
        for i in o["orderItems"]:
            key = (o["orderId"], i["product"]["sellerSku"])
            want[key][0] += i["quantityOrdered"]
            if "price" in i["product"]:
                want[key][1] += Decimal(i["product"]["price"]["unitPrice"]["amount"]) * i["quantityOrdered"]
    assert {k: v[0] for k, v in lines.items()} == {k: v[0] for k, v in want.items()}
    priced = {k for k, v in want.items() if v[1]}
    assert priced and {k: lines[k][1] for k in priced} == {k: want[k][1] for k in priced}
    # Where the API gives no money (Pending), the report gives none for merchant-fulfilled orders but does for
    # Amazon-fulfilled ones, as users observe.
    unpriced = [r for r in rows if (r["amazon-order-id"], r["sku"]) not in priced]
    assert unpriced and all(r["order-status"] in ("Pending", "Cancelled") for r in unpriced)
    assert {r["fulfillment-channel"] for r in unpriced if r["item-price"]} <= {"Amazon"}
    # Amazon's vocabulary, and "" for what is not there.
    assert {r["fulfillment-channel"] for r in rows} == {"Amazon", "Merchant"}
    assert {r["order-status"] for r in rows} <= {"Pending", "Unshipped", "Shipping", "Shipped",
                                                 "Shipped - Delivered to Buyer", "Cancelled"}
    assert {r["is-business-order"] for r in rows} <= {"true", "false"}
    assert any(r["shipping-price"] == "" for r in rows)
    assert all(r["purchase-date"].endswith("+00:00") for r in rows)


def test_charsets_carry_each_regions_characters(emulator):
    found = {}
    for region, refresh, marketplace in (("EU", "Atzr|cp1252", "A1PA6795UKMFR9"),
                                         ("FE", "Atzr|cp932", "A1VC38T7YXB528"),
                                         ("NA", "Atzr|utf8", "ATVPDKIKX0DER")):
        seller = Client(emulator, refresh)
        report = seller.finished(seller.create(marketplaces=[marketplace], start=days_ago(30),
                                               end=days_ago(2)).json()["reportId"])
        charset, rows, _ = seller.download(report["reportDocumentId"])
        found[region] = (charset, "\n".join(r["product-name"] for r in rows))
    assert found["NA"][0] == "UTF-8"
    assert found["EU"][0] == "Cp1252"
    for text in ("Größe", "Röstung", "2 €", "£1", "— keeps"):
        assert text in found["EU"][1]
    assert found["FE"][0] == "cp932" and "スマートスピーカー" in found["FE"][1] and "コーヒー豆" in found["FE"][1]


def test_fatal_cancelled_and_an_expired_url_each_end_as_amazon_ends_them(emulator):
    control = EmulatorControl(emulator)
    seller = Client(emulator, "Atzr|reports-outcomes")
    # A window over 30 days: FATAL, with a document that says why.
    fatal = seller.finished(seller.create(start=days_ago(40), end=days_ago(2)).json()["reportId"])
    assert fatal["processingStatus"] == "FATAL"
    url = seller.document(fatal["reportDocumentId"]).json()["url"]
    assert WINDOW_TOO_LONG in gzip.decompress(requests.get(url, timeout=30).content).decode()
    # Injected: FATAL on an ordinary window.
    control.faults(report_fatal=1.0)
    assert seller.finished(seller.create(start=days_ago(4), end=days_ago(3)).json()["reportId"])[
        "processingStatus"] == "FATAL"
    control.faults()
    # No data (older than the two years Amazon keeps): CANCELLED, and no document.
    empty = seller.finished(seller.create(start=days_ago(900), end=days_ago(880)).json()["reportId"])
    assert empty["processingStatus"] == "CANCELLED" and "reportDocumentId" not in empty
    # The URL expires after 5 minutes; a new getReportDocument gives a fresh one.
    done = seller.finished(seller.create(start=days_ago(4), end=days_ago(3)).json()["reportId"])
    url = seller.document(done["reportDocumentId"]).json()["url"]
    control.set_clock(datetime.now(UTC) + timedelta(minutes=6))
    expired = requests.get(url, timeout=30)
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    assert requests.get(seller.document(done["reportDocumentId"]).json()["url"], timeout=30).status_code == 200


def test_split_rows_header_variants_and_the_order_date_report(emulator):
    seller = Client(emulator, "Atzr|reports-variants")
    headers, split = set(), 0
    for n, report_type in enumerate([BY_LAST_UPDATE, BY_LAST_UPDATE, BY_LAST_UPDATE, BY_ORDER_DATE]):
        report = seller.finished(seller.create(report_type=report_type, start=days_ago(12 + 3 * n),
                                               end=days_ago(9 + 3 * n)).json()["reportId"])
        _, rows, _ = seller.download(report["reportDocumentId"])
        columns = tuple(rows[0])
        headers.add(columns)
        if report_type == BY_ORDER_DATE:
            assert "cpf" in columns
        per_line = defaultdict(list)
        for r in rows:
            per_line[(r["amazon-order-id"], r["sku"], r["product-name"])].append(r)
        split += sum(1 for v in per_line.values() if len(v) == 2 and v[0]["item-status"] == "Shipped")
    assert split > 0  # a line shipped from two fulfilment centres is two rows
    assert any("url" in h for h in headers) and any("order-item-id" in h for h in headers)
    assert any("url" not in h and "order-item-id" not in h for h in headers)


def test_create_report_keeps_amazons_quota():
    with Emulator(speed=1, seed=1, orders_per_day=50) as emu:
        seller = Client(emu, "Atzr|reports-quota")
        statuses = [seller.create(start=days_ago(4), end=days_ago(3)).status_code for _ in range(16)]
        assert statuses[:15] == [202] * 15 and statuses[15] == 429


def test_a_split_lines_rows_add_up_to_the_line():
    from amazon_orders_pipeline.emulator.report_documents import COLUMNS, order_rows
    from amazon_orders_pipeline.emulator.seller import SyntheticSeller

    seller = SyntheticSeller(seed=11, orders_per_day=400)
    day = datetime(2026, 11, 1).date()
    orders = [o for d in range(6) for o in seller.orders_created_on("s", day + timedelta(days=d))]
    split = 0
    for o in orders:
        as_of = o.events[-1][0]
        rows = order_rows(o, as_of, COLUMNS)
        for line in o.lines:
            mine = [r for r in rows if r["sku"] == line.sku and r["product-name"] == line.title]
            if len(mine) == 2 and len([x for x in o.lines if x.sku == line.sku]) == 1:
                split += 1
                assert sum(int(r["quantity"]) for r in mine) == line.quantity
                assert sum(Decimal(r["item-price"]) for r in mine) == line.unit_price * line.quantity
                taxes = ("item-tax", "shipping-tax", "gift-wrap-tax")
                assert sum(Decimal(r[c] or "0") for r in mine for c in taxes) == line.tax
    assert split > 0


def test_documents_made_in_worker_processes_equal_those_made_in_the_emulator(emulator):
    # Orders of two months ago changed for the last time weeks ago: the two documents see the same orders.
    start, end = days_ago(70), days_ago(45)
    made = {}
    with Emulator(speed=1000, seed=11, orders_per_day=300, report_processing_s=30, report_workers=2) as pooled:
        for name, emu in (("thread", emulator), ("processes", pooled)):
            seller = Client(emu, "Atzr|workers")
            report = seller.finished(seller.create(marketplaces=["ATVPDKIKX0DER"], start=start,
                                                   end=end).json()["reportId"])
            assert report["processingStatus"] == "DONE"
            made[name] = seller.download(report["reportDocumentId"])[1]
    assert made["processes"] == made["thread"] and len(made["thread"]) > 1000


def test_presigned_urls_point_at_the_emulator_whatever_host_the_client_sends(emulator):
    """Clients that derive Host from Amazon's endpoint, or sit behind a proxy, send a Host of their own; the URLs
    they are handed must still reach the emulator, as Amazon's never depend on the caller's Host."""
    seller = Client(emulator, "Atzr|foreign-host")
    foreign = {**seller.headers, "Host": "sellingpartnerapi-eu.amazon.com"}
    report = seller.finished(seller.create(start=days_ago(5), end=days_ago(3)).json()["reportId"])
    document = requests.get(f"{emulator.url}/reports/2021-06-30/documents/{report['reportDocumentId']}",
                            headers=foreign, timeout=30).json()
    assert document["url"].startswith(emulator.url + "/")
    downloaded = requests.get(document["url"], timeout=30)
    assert downloaded.status_code == 200 and gzip.decompress(downloaded.content).startswith(b"amazon-order-id")
    created = requests.post(f"{emulator.url}/feeds/2021-06-30/documents", headers=foreign, timeout=30,
                            json={"contentType": "text/xml; charset=UTF-8"}).json()
    assert created["url"].startswith(emulator.url + "/")
    assert requests.put(created["url"], data=b"<AmazonEnvelope/>", timeout=30,
                        headers={"Content-Type": "text/xml; charset=UTF-8"}).status_code == 200


def test_a_public_url_setting_names_where_documents_are_fetched():
    with Emulator(speed=1000, report_processing_s=30, public_url="http://emulator.internal:8443/") as emu:
        seller = Client(emu, "Atzr|public-url")
        created = requests.post(f"{emu.url}/feeds/2021-06-30/documents", headers=seller.headers, timeout=30,
                                json={"contentType": "text/xml; charset=UTF-8"}).json()
        assert created["url"].startswith("http://emulator.internal:8443/_emulator/feed-uploads/")
