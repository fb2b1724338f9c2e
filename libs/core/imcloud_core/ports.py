"""The transaction every service's domain works in, as a protocol (no SQL here)."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class Transaction(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def record(self, event: object) -> None:
        """Publishes ``event`` if, and only if, the transaction commits."""
