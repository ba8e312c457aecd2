"""The local SP-API: a real HTTP server on 127.0.0.1 whose route table is every emulated API's ROUTES (LWA, Tokens,
Orders v2026-01-01 and v0, confirmShipment, Reports, Feeds, Notifications, Fulfillment Outbound,
Finances) and the
emulator's own controls."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from amazon_orders_pipeline.emulator.apis import (
    feeds,
    finances,
    fulfillment_outbound,
    lwa,
    merchant,
    notifications,
    orders_v0,
    orders_v2026,
    reports,
    tokens,
)
from amazon_orders_pipeline.emulator.backends import Backends
from amazon_orders_pipeline.emulator.control import ROUTES as CONTROL_ROUTES
from amazon_orders_pipeline.emulator.feeds import DEFAULT_FEED_PROCESSING_S
from amazon_orders_pipeline.emulator.http import DROP, Reply, Request, Route, dispatch
from amazon_orders_pipeline.emulator.state import DEFAULT_INDEX_LAG_S, EmulatorState

ROUTES: list[Route] = [
    *lwa.ROUTES, *tokens.ROUTES, *orders_v2026.ROUTES, *orders_v0.ROUTES, *merchant.ROUTES, *reports.ROUTES,
    *feeds.ROUTES, *notifications.ROUTES, *fulfillment_outbound.ROUTES, *finances.ROUTES,
    *CONTROL_ROUTES,
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SPAPIEmulator/1.0"
    # Headers and body go out as two writes; with Nagle's algorithm on, a keep-alive client's delayed ACK holds
    # the body back ~40 ms, which is most of a small call's time (getOrderItems).
    disable_nagle_algorithm = True
    # Set on the subclass made per server.
    state: EmulatorState
    backends: Backends
    public_url: str

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests read data, not access logs
        pass

    def date_time_string(self, timestamp=None) -> str:
        """The Date header, on the emulator's clock (clients learn Amazon's time from it)."""
        return formatdate(self.state.clock.now().timestamp() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self):  # noqa: N802
        self._serve("GET")

    def do_DELETE(self):  # noqa: N802
        self._serve("DELETE")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def do_PUT(self):  # noqa: N802
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(method, url.path, parse_qs(url.query, keep_blank_values=True), self.headers,
                          self.rfile.read(length) if length else b"", (), self.public_url)
        reply = dispatch(ROUTES, request, self.state, self.backends)
        if reply is DROP:
            return self._drop()
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        raw = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in {"Content-Type": "application/json", **reply.headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Emulator:
    """A running emulator: `url` to talk to it, `state` and `backends` to steer it from the same process.
    `public_url`: where clients reach it, for the pre-signed document URLs it hands out (its own bound address by
    default; never the request's Host header, which a client or a proxy may set to anything)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, seed: int = 42, speed: float = 1.0,
                 orders_per_day: int = 400, report_processing_s: float | None = None, report_workers: int = 0,
                 index_lag_s: float = DEFAULT_INDEX_LAG_S, sqs_endpoint: str | None = None,
                 feed_processing_s: float = DEFAULT_FEED_PROCESSING_S, public_url: str | None = None):
        self.state = EmulatorState(seed=seed, speed=speed, orders_per_day=orders_per_day, index_lag_s=index_lag_s)
        processing = {} if report_processing_s is None else {"report_processing_s": report_processing_s}
        self.backends = Backends.build(self.state, report_workers=report_workers, sqs_endpoint=sqs_endpoint,
                                       feed_processing_s=feed_processing_s, **processing)
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.public_url = (public_url or self.url).rstrip("/")
        self._server.RequestHandlerClass = type("BoundHandler", (Handler,), {
            "state": self.state, "backends": self.backends, "public_url": self.public_url})
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sp-api-emulator", daemon=True)
        self._thread.start()
        self.backends.start()
        return self

    def serve_forever(self) -> None:
        self.backends.start()
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.backends.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
