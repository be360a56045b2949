"""The one table that maps runyard errors to HTTP statuses and JSON error bodies.

Routes never build error responses themselves: they let :mod:`runyard.errors` exceptions
propagate, and the handlers installed by :func:`install_error_handlers` answer with the
status, the native ``{"error": {"code", "message", "details"}}`` body, or — under the MLflow
prefix ``/api/2.0/`` — MLflow's ``{"error_code", "message"}`` body, whose ``error_code`` the
stock ``mlflow`` client branches on.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from runyard.errors import (
    AlreadyExists,
    InvalidArgument,
    InvalidFilter,
    MissingDependency,
    NotFound,
    ParamConflict,
    RunyardError,
    StoreError,
    StoreUnavailable,
    UnsafePath,
)
from runyard.wire import ErrorCode

__all__ = ["ERROR_TABLE", "MLFLOW_PREFIX", "error_response", "install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

MLFLOW_PREFIX = "/api/2.0/"

# Most specific first; the first match wins: (error, HTTP status, native code, MLflow code).
ERROR_TABLE: tuple[tuple[type[RunyardError], int, ErrorCode, str], ...] = (
    (NotFound, 404, ErrorCode.NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
    (AlreadyExists, 409, ErrorCode.ALREADY_EXISTS, "RESOURCE_ALREADY_EXISTS"),
    (InvalidFilter, 400, ErrorCode.INVALID_FILTER, "INVALID_PARAMETER_VALUE"),
    (ParamConflict, 400, ErrorCode.PARAM_CONFLICT, "INVALID_PARAMETER_VALUE"),
    (UnsafePath, 400, ErrorCode.UNSAFE_PATH, "INVALID_PARAMETER_VALUE"),
    (InvalidArgument, 400, ErrorCode.INVALID_ARGUMENT, "INVALID_PARAMETER_VALUE"),
    (MissingDependency, 501, ErrorCode.MISSING_DEPENDENCY, "NOT_IMPLEMENTED"),
    (StoreUnavailable, 503, ErrorCode.STORE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE"),
    (StoreError, 500, ErrorCode.STORE_ERROR, "INTERNAL_ERROR"),
    (RunyardError, 500, ErrorCode.INTERNAL, "INTERNAL_ERROR"),
)

# HTTP-level failures that are not runyard errors (auth, routing, body limits).
_HTTP_CODES: dict[int, tuple[ErrorCode, str]] = {
    400: (ErrorCode.INVALID_ARGUMENT, "BAD_REQUEST"),
    401: (ErrorCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
    403: (ErrorCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
    404: (ErrorCode.NOT_FOUND, "ENDPOINT_NOT_FOUND"),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "BAD_REQUEST"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "REQUEST_LIMIT_EXCEEDED"),
    422: (ErrorCode.INVALID_ARGUMENT, "INVALID_PARAMETER_VALUE"),
}


def status_for(error: RunyardError) -> tuple[int, ErrorCode, str]:
    """Return (HTTP status, native code, MLflow error_code) for a runyard error."""
    for kind, status, code, mlflow_code in ERROR_TABLE:
        if isinstance(error, kind):
            return status, code, mlflow_code
    return 500, ErrorCode.INTERNAL, "INTERNAL_ERROR"  # pragma: no cover - RunyardError matches


def error_response(
    path: str,
    status: int,
    code: ErrorCode,
    mlflow_code: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    """The error response for a request path: MLflow's body under ``/api/2.0/``, else ours."""
    if path.startswith(MLFLOW_PREFIX):
        return JSONResponse({"error_code": mlflow_code, "message": message}, status_code=status)
    body = {"error": {"code": code.value, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status)


def _details(error: RunyardError) -> dict[str, Any]:
    if isinstance(error, InvalidFilter):
        head = str(error).split(f" at position {error.position}:", 1)[0]
        return {"text": error.text, "position": error.position, "reason": head}
    return {}


async def _runyard_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RunyardError):  # pragma: no cover - registered for it only
        raise exc
    status, code, mlflow_code = status_for(exc)
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(request.url.path, status, code, mlflow_code, str(exc), _details(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered for it
        raise exc
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    message = "invalid request: " + "; ".join(problems)
    return error_response(
        request.url.path, 400, ErrorCode.INVALID_ARGUMENT, "INVALID_PARAMETER_VALUE", message
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover - registered for it
        raise exc
    code, mlflow_code = _HTTP_CODES.get(exc.status_code, (ErrorCode.INTERNAL, "INTERNAL_ERROR"))
    message = str(exc.detail) if exc.detail else "error"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    response = error_response(request.url.path, exc.status_code, code, mlflow_code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s raised", request.method, request.url.path, exc_info=exc)
    return error_response(
        request.url.path, 500, ErrorCode.INTERNAL, "INTERNAL_ERROR", "internal server error"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Install the handlers that apply :data:`ERROR_TABLE` to every route of ``app``."""
    app.add_exception_handler(RunyardError, _runyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
