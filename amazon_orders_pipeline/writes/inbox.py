"""A folder (or S3 prefix) that another system drops request files into, read once each: the files waiting, the one
loop both writes take them in by, and the move to `processed/` once a file is recorded.

A file is recorded (its lines with their outcomes, in one transaction) before it moves, so a crash between the two
leaves a file the ledger knows by its hash: it is only moved, never taken twice."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from amazon_orders_pipeline.stores import ObjectStore
from amazon_orders_pipeline.writes import ledger

PROCESSED = "processed/"


class Log(Protocol):
    def info(self, msg: str) -> None: ...

    def warning(self, msg: str) -> None: ...


@dataclass
class PassOutcome:
    """What every write's pass reports of its inbox and ledger: the files taken, their lines by outcome, the invalid
    lines with their reasons, and the closed requests pruned."""

    files: int = 0
    lines: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "duplicate": 0, "invalid": 0})
    invalid_lines: list[dict] = field(default_factory=list)
    pruned: int = 0


# Records one file's lines and requests in the caller's connection, in one transaction; returns the lines' counts by
# outcome. Arguments: the connection, the file's key, its hash, its content.
TakeFile = Callable[[duckdb.DuckDBPyConnection, str, str, bytes], dict[str, int]]


def take_inbox(inbox: ObjectStore, connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
               schema: str, take_file: TakeFile, out: PassOutcome, log: Log) -> None:
    """Every waiting file: recorded once (by `take_file`, unless the ledger knows it), then moved to processed/."""
    for key in waiting(inbox):
        content = inbox.get(key)
        if content is None:  # moved by a run beside this one
            continue
        sha = digest(content)
        with connect() as conn:
            if not ledger.taken(conn, schema, key, sha):
                counts = take_file(conn, key, sha, content)
                out.files += 1
                for outcome, n in counts.items():
                    out.lines[outcome] += n
                out.invalid_lines.extend(ledger.invalid_lines(conn, schema, key, sha))
                log.info(f"{key}: {counts['accepted']} line(s) accepted, {counts['duplicate']} duplicate, "
                         f"{counts['invalid']} invalid")
        move_to_processed(inbox, key, content)


def waiting(inbox: ObjectStore) -> list[str]:
    """The files waiting in the inbox: not yet moved to `processed/`, and not hidden (a writer's temporary file)."""
    return [k for k in inbox.keys("") if not k.startswith(PROCESSED)
            and not any(part.startswith(".") for part in k.split("/"))]


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def move_to_processed(inbox: ObjectStore, key: str, content: bytes) -> None:
    """A copy first, then the delete: a crash in between leaves the file in one place or in both, never in none."""
    inbox.put(PROCESSED + key, content)
    inbox.delete(key)
