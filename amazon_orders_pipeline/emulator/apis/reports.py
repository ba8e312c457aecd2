"""The Reports API 2021-06-30 (backend: emulator/reports.py), whose model declares the rate header on 2xx, 400 and
404; and the pre-signed document URLs it hands out."""

from __future__ import annotations

from amazon_orders_pipeline.emulator.http import Call, Reply, operation, plain
from amazon_orders_pipeline.emulator.reports import DOCUMENTS_PATH, DOWNLOAD_PATH, REPORTS_PATH

ON = (200, 202, 400, 404)


def download(call: Call) -> Reply:
    status, content, headers = call.backends.reports.download(call.request.groups[0])
    return Reply(status, content, {"Content-Type": "application/xml", **headers})


ROUTES = [
    plain("GET", DOWNLOAD_PATH + r"(.*)", download),
    operation("POST", REPORTS_PATH, "createReport",
              lambda c: c.backends.reports.create(c.seller, c.request.body), rate_header_on=ON),
    operation("GET", REPORTS_PATH, "getReports",
              lambda c: c.backends.reports.search(c.seller, c.request.params), rate_header_on=ON),
    operation("GET", DOCUMENTS_PATH + r"/(.+)", "getReportDocument",
              lambda c: c.backends.reports.document(c.seller, c.request.groups[0], c.request.base_url,
                                                    c.request.params), rate_header_on=ON),
    operation("GET", REPORTS_PATH + r"/(.+)", "getReport",
              lambda c: c.backends.reports.get(c.seller, c.request.groups[0]), rate_header_on=ON),
    operation("DELETE", REPORTS_PATH + r"/(.+)", "cancelReport",
              lambda c: c.backends.reports.cancel(c.seller, c.request.groups[0]), rate_header_on=ON),
]
