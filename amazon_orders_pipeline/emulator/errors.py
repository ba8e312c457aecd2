"""The SP-API's error envelope, shared by every emulated API."""

from __future__ import annotations


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

