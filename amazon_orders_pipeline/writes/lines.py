"""A request file's lines, read as the writes' inboxes read them: numbered from 1, a byte-order mark and blank lines
left out, a cut-off last line told apart; why a line is not a request."""

from __future__ import annotations

import json
from dataclasses import dataclass


class LineError(ValueError):
    """Why one line of a request file is not a request."""


@dataclass(frozen=True)
class LineOutcome:
    line_number: int
    outcome: str  # accepted | invalid (duplicate is decided against the ledger)
    reason: str | None = None
    request_id: str | None = None


def file_lines(content: bytes) -> list[tuple[int, bytes, bool]]:
    """A request file's lines: (number from 1, bytes, whether a newline ended it, so a cut-off last line can be
    told apart), a UTF-8 byte-order mark and blank lines left out."""
    raw = content.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    out = []
    for n, line in enumerate(raw, start=1):
        line = line.rstrip(b"\r")
        if line.strip():
            out.append((n, line, n < len(raw)))
    return out


def utf8(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LineError(f"not UTF-8 text (byte {e.start + 1})") from None


def json_object_line(line: bytes, ended: bool) -> dict:
    """A JSON Lines line as an object, or the LineError saying why not."""
    text = utf8(line)
    try:
        data = json.loads(text)
    except ValueError:
        raise LineError("not valid JSON" + ("" if ended else " (the file may be truncated)")) from None
    if not isinstance(data, dict):
        raise LineError("not a JSON object")
    return data
