"""Talking to the emulator as an SP-API client does, and checking its answers against Amazon's models
(jsonschema: a development dependency)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
import requests


def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


FORMATS = jsonschema.FormatChecker()
FORMATS.checks("date-time", raises=ValueError)(_date_time)


def validate(model: dict, definition: str, body: dict) -> None:
    schema = {"$ref": f"#/definitions/{definition}", "definitions": model["definitions"]}
    jsonschema.Draft4Validator(schema, format_checker=FORMATS).validate(body)


def response_schema(model: dict, path: str, status: int) -> str:
    op = model["paths"][path]["get"]
    return op["responses"][str(status)]["schema"]["$ref"].rsplit("/", 1)[-1]


def token(url: str, refresh: str = "Atzr|conformance") -> str:
    resp = requests.post(f"{url}/auth/o2/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh, "client_id": "c", "client_secret": "s"}, timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    return body["access_token"]


def window(days_ago: int = 3) -> dict:
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {"lastUpdatedAfter": day.strftime(fmt), "lastUpdatedBefore": (day + timedelta(days=1)).strftime(fmt)}


def get(url: str, path: str, access: str | None, **params) -> requests.Response:
    headers = {"x-amz-access-token": access} if access else {}
    return requests.get(url + path, params=params, headers=headers, timeout=30)
