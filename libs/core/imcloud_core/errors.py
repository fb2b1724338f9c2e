"""The error hierarchy every service raises, and the one table that maps it.

Domain code raises these; the gRPC and HTTP edges translate them with
``ERROR_TABLE`` and nothing else, so a NotFound is a 404 and NOT_FOUND everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import grpc


class ErrorCode(StrEnum):
    INVALID_ARGUMENT = "invalid_argument"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


@dataclass(frozen=True)
class ErrorMapping:
    http_status: int
    grpc_status: grpc.StatusCode


ERROR_TABLE: dict[ErrorCode, ErrorMapping] = {
    ErrorCode.INVALID_ARGUMENT: ErrorMapping(422, grpc.StatusCode.INVALID_ARGUMENT),
    ErrorCode.UNAUTHENTICATED: ErrorMapping(401, grpc.StatusCode.UNAUTHENTICATED),
    ErrorCode.PERMISSION_DENIED: ErrorMapping(403, grpc.StatusCode.PERMISSION_DENIED),
    ErrorCode.NOT_FOUND: ErrorMapping(404, grpc.StatusCode.NOT_FOUND),
    ErrorCode.ALREADY_EXISTS: ErrorMapping(409, grpc.StatusCode.ALREADY_EXISTS),
    ErrorCode.FAILED_PRECONDITION: ErrorMapping(409, grpc.StatusCode.FAILED_PRECONDITION),
    ErrorCode.PAYLOAD_TOO_LARGE: ErrorMapping(413, grpc.StatusCode.OUT_OF_RANGE),
    ErrorCode.RESOURCE_EXHAUSTED: ErrorMapping(429, grpc.StatusCode.RESOURCE_EXHAUSTED),
    ErrorCode.UNAVAILABLE: ErrorMapping(503, grpc.StatusCode.UNAVAILABLE),
    ErrorCode.INTERNAL: ErrorMapping(500, grpc.StatusCode.INTERNAL),
}

CODE_BY_GRPC_STATUS: dict[grpc.StatusCode, ErrorCode] = {
    mapping.grpc_status: code for code, mapping in ERROR_TABLE.items()
}
# Statuses a peer may send that have no domain error of their own.
CODE_BY_GRPC_STATUS |= {
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED: ErrorCode.UNAVAILABLE,
    grpc.StatusCode.UNKNOWN: ErrorCode.INTERNAL,
    grpc.StatusCode.UNIMPLEMENTED: ErrorCode.INTERNAL,
    grpc.StatusCode.DATA_LOSS: ErrorCode.INTERNAL,
    grpc.StatusCode.ABORTED: ErrorCode.FAILED_PRECONDITION,
}


@dataclass(frozen=True)
class FieldViolation:
    """Why one field of a request was refused; ``field`` is a dotted path."""

    field: str
    reason: str


class ImcloudError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, violations: tuple[FieldViolation, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.violations = violations

    @property
    def mapping(self) -> ErrorMapping:
        return ERROR_TABLE[self.code]


class InvalidArgument(ImcloudError):
    code = ErrorCode.INVALID_ARGUMENT


class Unauthenticated(ImcloudError):
    code = ErrorCode.UNAUTHENTICATED


class PermissionDenied(ImcloudError):
    code = ErrorCode.PERMISSION_DENIED


class NotFound(ImcloudError):
    code = ErrorCode.NOT_FOUND


class AlreadyExists(ImcloudError):
    code = ErrorCode.ALREADY_EXISTS


class FailedPrecondition(ImcloudError):
    code = ErrorCode.FAILED_PRECONDITION


class PayloadTooLarge(ImcloudError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class ResourceExhausted(ImcloudError):
    code = ErrorCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(ImcloudError):
    code = ErrorCode.UNAVAILABLE


ERROR_CLASSES: dict[ErrorCode, type[ImcloudError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        PayloadTooLarge,
        Unavailable,
    )
}


class ConfigurationError(Exception):
    """A setting is wrong or points at something unreachable; raised at start-up.

    The message names the setting (its environment variable) so an operator can
    fix it without reading a stack trace.
    """
