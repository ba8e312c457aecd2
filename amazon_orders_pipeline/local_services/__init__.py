"""Services started on loopback, for `make demo-lake` and for the tests and benchmarks alike: a throwaway PostgreSQL
cluster of Debian's server (postgres.py), moto's server for S3 and SQS (moto.py), and the production profile made of
them (production.py). The pipeline itself never imports these; the demo and testing/ do."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
