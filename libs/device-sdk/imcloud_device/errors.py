"""What can go wrong on the device link, as the client reports it."""

from __future__ import annotations


class DeviceLinkError(Exception):
    """A problem on the device link, passed to ``on_error``.

    ``code`` is the gRPC status name (e.g. ``"UNAVAILABLE"``). A ``fatal`` error
    stopped the client: nothing more is sent until a new client is made.
    Other errors are followed by a reconnect.
    """

    fatal: bool = False

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConnectionLostError(DeviceLinkError):
    """The link could not be opened or was lost; the client reconnects."""


class AuthenticationError(DeviceLinkError):
    """The platform refused the credential (revoked, rotated, or wrong); the client stopped."""

    fatal = True
