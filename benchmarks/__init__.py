"""Benchmarks: thin commands over amazon_orders_pipeline.testing, each printing one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def add_keep(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")


def run_in_workdir(keep: Path | None, run: Callable[[Path], dict], ok: Callable[[dict], bool]) -> dict:
    """`run` in `keep` (kept) or a temporary directory; its result printed as JSON; exit 1 unless `ok`."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = run(workdir)
    print(json.dumps(result))
    if not ok(result):
        sys.exit(1)
    return result
