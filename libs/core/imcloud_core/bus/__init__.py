"""The event bus: at-least-once, keyed, partitioned delivery to consumer groups.

Two backends honour the same contract (tests/integration/bus runs one suite
against both): Kafka for distributed deployments, and an in-process log for the
embedded mode. The contract:

- ``publish`` returns once the record is durable (Kafka: acks=all).
- Records with the same key land in the same partition, in publish order.
- Every consumer group sees every record; within a group each partition is
  handled by one member at a time.
- A group's offset advances only after its handler returned; a handler that
  raises (or a member that dies) gets the same records again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes


BatchHandler = Callable[[Sequence[Record]], None]


class Subscription(Protocol):
    def begin_stop(self) -> None:
        """Asks the member to stop after the batch in hand, without waiting."""

    def stop(self) -> None:
        """Leaves the group; records not yet handled go to the remaining members."""


def stop_all(subscriptions: Iterable[Subscription]) -> None:
    """Stops members together: each one's wait for its poll overlaps the others'."""
    subscriptions = list(subscriptions)
    for subscription in subscriptions:
        subscription.begin_stop()
    for subscription in subscriptions:
        subscription.stop()


class EventBus(Protocol):
    def ensure_topics(self, topics: Sequence[str]) -> None: ...

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Returns when every record is durable; raises if any could not be."""

    def subscribe(
        self,
        *,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler,
        max_records: int | None = None,
        from_latest: bool = False,
    ) -> Subscription:
        """Hands the handler at most ``max_records`` records at once (default: settings).

        A new group starts at the oldest record. With ``from_latest`` this process
        alone reads every record published after ``subscribe`` returns (its
        position is fixed by then), and nothing is kept for a later process.
        """

    def ping(self) -> None:
        """Raises when the bus cannot be reached (readiness)."""

    def close(self) -> None: ...
