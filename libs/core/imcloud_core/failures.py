"""Which failures are the infrastructure's (wait and try again) rather than the data's."""

from __future__ import annotations

import grpc
from kafka.errors import KafkaError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from imcloud_core.errors import Unavailable

_TRANSIENT_GRPC = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def is_transient(error: BaseException) -> bool:
    """True when ``error`` says a database, broker or service is out of reach for
    now, so the same work will succeed later unchanged."""
    if isinstance(
        error,
        OperationalError
        | InterfaceError
        | DisconnectionError
        | PoolTimeout
        | KafkaError
        | Unavailable
        | ConnectionError
        | TimeoutError,
    ):
        return True
    if isinstance(error, grpc.RpcError):
        return error.code() in _TRANSIENT_GRPC  # type: ignore[attr-defined]
    return False
