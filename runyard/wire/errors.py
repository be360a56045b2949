"""The error body every runyard server response carries on failure.

A failed request answers ``{"error": {"code": ..., "message": ...}}`` with an HTTP status
chosen by the server's error table. ``code`` names the branch of the runyard error tree so
that the REST client raises the same exception the store raised on the server.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ErrorBody", "ErrorCode", "ErrorDetail"]


class ErrorCode(enum.StrEnum):
    """Machine-readable error codes of the native API (one per branch of the error tree)."""

    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_FILTER = "INVALID_FILTER"
    PARAM_CONFLICT = "PARAM_CONFLICT"
    UNSAFE_PATH = "UNSAFE_PATH"
    STORE_ERROR = "STORE_ERROR"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    MISSING_DEPENDENCY = "MISSING_DEPENDENCY"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    INTERNAL = "INTERNAL"


class ErrorDetail(BaseModel):
    """What went wrong.

    Attributes:
        code: the error code.
        message: a one-line human-readable explanation.
        details: extra fields (``text`` and ``position`` of an invalid filter).
    """

    code: ErrorCode
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """The JSON body of a failed request."""

    error: ErrorDetail
