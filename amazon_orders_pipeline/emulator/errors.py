"""The SP-API's error envelope, shared by every emulated API."""

from __future__ import annotations

import json


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return {"errors": [err]}


def invalid(details: str) -> ApiError:
    return ApiError(400, "InvalidInput", "Invalid Input", details)



def json_object(raw: bytes, what: str = "a JSON object") -> dict:
    """A request body that must be a JSON object, or Amazon's 400 InvalidInput."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise invalid("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid(f"the request body must be {what}")
    return body


def s3_error(code: str, message: str) -> bytes:
    """S3's error body, as a pre-signed document or upload URL answers."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            "</Error>").encode()
