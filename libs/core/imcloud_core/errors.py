"""The error hierarchy every service raises, free of any transport.

Domain code raises these; each edge maps ``ErrorCode`` once, in its own table
(``imcloud_core.rpc.GRPC_STATUS`` for gRPC, the gateway's ``HTTP_STATUS`` for
HTTP), so a NotFound is NOT_FOUND and 404 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
