"""One error envelope for every error the REST API returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from imcloud_core.errors import ErrorCode, ImcloudError, ResourceExhausted
from imcloud_core.logging import get_logger
from imcloud_core.metrics import ERRORS
from imcloud_gateway.api.http.schemas.common import Error, ErrorDetail, ErrorResponse

log = get_logger(__name__)

# The one table from domain errors to HTTP statuses.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_ARGUMENT: 422,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.FAILED_PRECONDITION: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RESOURCE_EXHAUSTED: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}
# Statuses the HTTP framework answers by itself, with the error code they carry.
HTTP_CODES = {
    400: ErrorCode.INVALID_ARGUMENT,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: "method_not_allowed",
    409: ErrorCode.ALREADY_EXISTS,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: "unsupported_media_type",
    422: ErrorCode.INVALID_ARGUMENT,
    429: ErrorCode.RESOURCE_EXHAUSTED,
}

INTERNAL_MESSAGE = "internal error; quote the request id when reporting it"
# What a caller reads instead of a failing backend's own message.
BACKEND_FAILURES = {
    ErrorCode.UNAVAILABLE: "a service behind the gateway is unavailable; retry later",
    ErrorCode.INTERNAL: INTERNAL_MESSAGE,
}

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# What the OpenAPI shows for each status: one example per status, not one for all.
EXAMPLES: dict[int, tuple[str, str]] = {
    400: ("the body is not valid JSON: Expecting value at character 13", ""),
    401: ("the API key is not valid", ""),
    403: ("the role viewer may not do this", ""),
    404: ("plant not found", ""),
    409: ("a machine with this serial number exists", ""),
    413: ("the request body exceeds 1048576 bytes", ""),
    422: ("the request is not valid", "name"),
    429: ("too many requests; retry later", ""),
    503: (BACKEND_FAILURES[ErrorCode.UNAVAILABLE], ""),
}
CODE_BY_STATUS = {status: code for code, status in HTTP_STATUS.items()} | HTTP_CODES


def error_example(status: int) -> dict[str, Any]:
    message, field = EXAMPLES.get(status, (f"HTTP {status}", ""))
    details = [{"field": field, "reason": "String should have at least 1 character"}]
    return {
        "error": {
            "code": str(CODE_BY_STATUS.get(status, "error")),
            "message": message,
            "request_id": "9f2c4e1ab7d84c0d9e3f5a6b7c8d9e0f",
            "details": details if field else [],
        }
    }


# Documented on every route (FastAPI `responses=`), so the OpenAPI lists them.
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def error_response(
    request: Request,
    *,
    status: int,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    ERRORS.labels("http", code).inc()
    log.info(
        "request refused",
        status=status,
        code=code,
        reason=message,
        path=request.url.path,
        method=request.method,
    )
    body = ErrorResponse(
        error=Error(
            code=code, message=message, request_id=request_id(request), details=list(details)
        )
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _location(parts: Sequence[Any]) -> str:
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImcloudError)
    headers = None
    if isinstance(exc, ResourceExhausted):
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    message = exc.message
    if exc.code in BACKEND_FAILURES:
        # A peer's message names internal addresses and hosts: for the log only.
        log.warning("backend failure", reason=exc.message)
        message = BACKEND_FAILURES[exc.code]
    return error_response(
        request,
        status=HTTP_STATUS[exc.code],
        code=exc.code.value,
        message=message,
        details=[ErrorDetail(field=v.field, reason=v.reason) for v in exc.violations],
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    unparsable = next((e for e in exc.errors() if e["type"] == "json_invalid"), None)
    if unparsable is not None:
        # FastAPI reports it as a field named after the character offset.
        reason = unparsable.get("ctx", {}).get("error", unparsable["msg"])
        return error_response(
            request,
            status=400,
            code=ErrorCode.INVALID_ARGUMENT.value,
            message=f"the body is not valid JSON: {reason} at character {unparsable['loc'][-1]}",
        )
    details = [
        # Drop the "body"/"query" prefix: the field path is what the caller sent.
        ErrorDetail(field=_location(e["loc"][1:]) or str(e["loc"][0]), reason=e["msg"])
        for e in exc.errors()
    ]
    return error_response(
        request,
        status=422,
        code=ErrorCode.INVALID_ARGUMENT.value,
        message="the request is not valid",
        details=details,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        # The router names only the methods of the first route of the path.
        headers["Allow"] = ", ".join(_methods_of(request))
    return error_response(
        request,
        status=exc.status_code,
        code=str(code),
        message=str(exc.detail),
        headers=headers or None,
    )


def _methods_of(request: Request) -> list[str]:
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("request failed", path=request.url.path, exc_info=exc)
    return error_response(
        request,
        status=500,
        code=ErrorCode.INTERNAL.value,
        message=INTERNAL_MESSAGE,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ImcloudError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
