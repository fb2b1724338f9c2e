"""The in-process event bus of the embedded mode.

A partitioned append-only log per topic with committed offsets per consumer
group, so that the embedded platform keeps the delivery contract of Kafka
(keyed order, groups, redelivery after a failed handler) without a broker.
Records every group has handled are dropped to bound memory.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from imcloud_core.bus import BatchHandler, OutgoingRecord, Record, Subscription
from imcloud_core.bus.delivery import Delivery
from imcloud_core.metrics import BUS_CONSUMER_LAG, BUS_HANDLED, BUS_PUBLISHED


@dataclass
class _Partition:
    # Offset of records[0]; records below it were handled by every group.
    base_offset: int = 0
    records: list[Record] = field(default_factory=list)

    @property
    def end_offset(self) -> int:
        return self.base_offset + len(self.records)


@dataclass
class _Group:
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    members: list[_Member] = field(default_factory=list)


class InMemoryBus:
    def __init__(self, *, partitions: int = 6, max_poll_records: int = 500) -> None:
        self._partition_count = partitions
        self._max_poll_records = max_poll_records
        self._topics: dict[str, list[_Partition]] = {}
        self._groups: dict[str, _Group] = {}
        self._changed = threading.Condition()
        self._closed = False

    def ensure_topics(self, topics: Sequence[str]) -> None:
        with self._changed:
            for topic in topics:
                self._topic(topic)

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        with self._changed:
            for outgoing in records:
                partitions = self._topic(outgoing.topic)
                index = zlib.crc32(outgoing.key.encode()) % len(partitions)
                partition = partitions[index]
                partition.records.append(
                    Record(
                        topic=outgoing.topic,
                        partition=index,
                        offset=partition.end_offset,
                        key=outgoing.key,
                        value=outgoing.value,
                    )
                )
                BUS_PUBLISHED.labels(outgoing.topic).inc()
            self._changed.notify_all()

    def subscribe(
        self,
        *,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler,
        max_records: int | None = None,
        from_latest: bool = False,
    ) -> Subscription:
        member = _Member(self, group, tuple(topics), handler, max_records or self._max_poll_records)
        with self._changed:
            new_group = group not in self._groups
            state = self._groups.setdefault(group, _Group())
            for topic in topics:
                partitions = self._topic(topic)
                if new_group and from_latest:
                    for index, partition in enumerate(partitions):
                        state.committed[(topic, index)] = partition.end_offset
            state.members.append(member)
            self._changed.notify_all()
        member.start()
        return member

    def ping(self) -> None:
        if self._closed:
            raise RuntimeError("the in-process bus is closed")

    def close(self) -> None:
        with self._changed:
            members = [m for g in self._groups.values() for m in g.members]
        for member in members:
            member.stop()
        self._closed = True

    def _topic(self, topic: str) -> list[_Partition]:
        if topic not in self._topics:
            self._topics[topic] = [_Partition() for _ in range(self._partition_count)]
        return self._topics[topic]

    # -- called by members, always under self._changed ------------------------

    def _assigned(self, member: _Member) -> list[tuple[str, int]]:
        """Partitions of the member's topics, spread round-robin over the group."""
        members = self._groups[member.group].members
        position = members.index(member)
        pairs = [(t, p) for t in member.topics for p in range(len(self._topics[t]))]
        return pairs[position :: len(members)]

    def _poll(self, member: _Member) -> list[Record]:
        group = self._groups[member.group]
        assigned = self._assigned(member)
        # Start where the last poll left off so a busy partition cannot starve the rest.
        member.cursor = (member.cursor + 1) % max(len(assigned), 1)
        for topic, index in assigned[member.cursor :] + assigned[: member.cursor]:
            partition = self._topics[topic][index]
            start = max(group.committed.get((topic, index), 0), partition.base_offset)
            if start < partition.end_offset:
                first = start - partition.base_offset
                return partition.records[first : first + member.max_records]
        return []

    def _commit(self, member: _Member, batch: Sequence[Record]) -> None:
        group = self._groups[member.group]
        last = batch[-1]
        group.committed[(last.topic, last.partition)] = last.offset + 1
        partition = self._topics[last.topic][last.partition]
        BUS_CONSUMER_LAG.labels(last.topic, member.group, str(last.partition)).set(
            partition.end_offset - last.offset - 1
        )
        self._trim(last.topic, last.partition)

    def _trim(self, topic: str, index: int) -> None:
        readers = [g for g in self._groups.values() if any(topic in m.topics for m in g.members)]
        partition = self._topics[topic][index]
        handled_by_all = min(g.committed.get((topic, index), 0) for g in readers)
        drop = handled_by_all - partition.base_offset
        if drop > 0:
            del partition.records[:drop]
            partition.base_offset = handled_by_all

    def _leave(self, member: _Member) -> None:
        group = self._groups[member.group]
        if member in group.members:
            group.members.remove(member)
        self._changed.notify_all()


class _Member:
    def __init__(
        self,
        bus: InMemoryBus,
        group: str,
        topics: tuple[str, ...],
        handler: BatchHandler,
        max_records: int,
    ) -> None:
        self.bus = bus
        self.max_records = max_records
        self.group = group
        self.topics = topics
        self.cursor = 0
        self._stopping = threading.Event()
        self._delivery = Delivery(
            group=group, handler=handler, publish=bus.publish, stopping=self._stopping
        )
        self._thread = threading.Thread(target=self._run, name=f"bus-{group}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def begin_stop(self) -> None:
        self._stopping.set()

    def stop(self) -> None:
        self.begin_stop()
        with self.bus._changed:
            self.bus._leave(self)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self.bus._changed:
                batch = self.bus._poll(self)
                if not batch:
                    self.bus._changed.wait(timeout=0.5)
                    continue
            if not self._delivery.deliver(batch):
                continue
            with self.bus._changed:
                if self in self.bus._groups[self.group].members:
                    self.bus._commit(self, batch)
            BUS_HANDLED.labels(batch[0].topic, self.group).inc(len(batch))
