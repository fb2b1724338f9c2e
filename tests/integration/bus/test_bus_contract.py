"""The delivery contract of the event bus, run against both backends.

The in-process bus of the embedded mode must behave like Kafka in everything
services rely on; these tests are that promise.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

import pytest

from imcloud.common.v1.events_pb2 import DeadLetter
from imcloud_core.bus import EventBus, OutgoingRecord, Record, delivery
from imcloud_core.bus.delivery import dead_letter_topic
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.bus.memory import InMemoryBus
from imcloud_core.settings import KafkaSettings
from tests.support.waiting import wait_for

BusFactory = Callable[[], EventBus]
# Published to find out whether a member owns partitions; not part of any assertion.
PROBE = b"probe"


@pytest.fixture(params=["memory", "kafka"])
def make_bus(request: pytest.FixtureRequest) -> Iterator[BusFactory]:
    """Returns a factory of bus handles that all talk to the same bus."""
    handles: list[EventBus] = []
    if request.param == "memory":
        shared = InMemoryBus(partitions=4)
        handles.append(shared)

        def factory() -> EventBus:
            return shared
    else:
        bootstrap = request.getfixturevalue("kafka_bootstrap")

        def factory() -> EventBus:
            bus = KafkaBus(KafkaSettings(bootstrap_servers=bootstrap, topic_partitions=4))
            handles.append(bus)
            return bus

    yield factory
    for handle in handles:
        handle.close()


@pytest.fixture
def topic() -> str:
    return f"test.contract.{uuid.uuid4().hex[:12]}"


class Collector:
    """A handler that remembers what it handled, and can be told to fail."""

    def __init__(self, fail_times: int = 0) -> None:
        self.records: list[Record] = []
        self.calls = 0
        self._fail_times = fail_times
        self._lock = threading.Lock()

    def __call__(self, batch: Sequence[Record]) -> None:
        with self._lock:
            self.calls += 1
            if self._fail_times > 0:
                self._fail_times -= 1
                raise RuntimeError("handler failure requested by the test")
            self.records.extend(batch)

    def values(self) -> list[bytes]:
        with self._lock:
            return [r.value for r in self.records if r.value != PROBE]


def publish_numbered(bus: EventBus, topic: str, count: int, keys: int = 8) -> list[bytes]:
    values = [f"{i}".encode() for i in range(count)]
    bus.publish([OutgoingRecord(topic, f"key-{i % keys}", value) for i, value in enumerate(values)])
    return values


def test_a_group_receives_every_record_in_key_order(make_bus: BusFactory, topic: str) -> None:
    bus = make_bus()
    bus.ensure_topics([topic])
    sent = publish_numbered(bus, topic, 200)
    collector = Collector()
    bus.subscribe(group=f"g-{topic}", topics=[topic], handler=collector)

    wait_for(lambda: len(collector.values()) >= 200, timeout_s=30, what="200 records")
    assert sorted(collector.values()) == sorted(sent)
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in collector.records:
        by_key[record.key].append(int(record.value))
    for key, numbers in by_key.items():
        assert numbers == sorted(numbers), f"records of {key} arrived out of order"


def test_every_group_sees_every_record(make_bus: BusFactory, topic: str) -> None:
    bus = make_bus()
    bus.ensure_topics([topic])
    first, second = Collector(), Collector()
    bus.subscribe(group=f"a-{topic}", topics=[topic], handler=first)
    make_bus().subscribe(group=f"b-{topic}", topics=[topic], handler=second)
    sent = publish_numbered(bus, topic, 50)

    wait_for(lambda: len(first.values()) >= 50 and len(second.values()) >= 50, timeout_s=30)
    assert sorted(first.values()) == sorted(second.values()) == sorted(sent)


def test_a_failed_handler_gets_the_same_records_again(make_bus: BusFactory, topic: str) -> None:
    bus = make_bus()
    bus.ensure_topics([topic])
    sent = publish_numbered(bus, topic, 30)
    collector = Collector(fail_times=2)
    bus.subscribe(group=f"g-{topic}", topics=[topic], handler=collector)

    wait_for(lambda: len(collector.values()) >= 30, timeout_s=30, what="redelivery")
    assert collector.calls >= 3
    # Nothing lost, and nothing handled twice once the handler succeeded.
    assert sorted(collector.values()) == sorted(sent)


def test_members_of_one_group_split_the_partitions(make_bus: BusFactory, topic: str) -> None:
    bus = make_bus()
    bus.ensure_topics([topic])
    group = f"g-{topic}"
    one, two = Collector(), Collector()
    bus.subscribe(group=group, topics=[topic], handler=one)
    make_bus().subscribe(group=group, topics=[topic], handler=two)
    wait_for_assignment(bus, topic, one, two)
    sent = publish_numbered(bus, topic, 400, keys=64)

    wait_for(lambda: len(one.values()) + len(two.values()) >= 400, timeout_s=30)
    assert sorted(one.values() + two.values()) == sorted(sent), "a record was lost or doubled"
    assert one.values(), "the other member got every partition"
    assert two.values(), "the other member got every partition"
    partitions_one = {r.partition for r in one.records if r.value != PROBE}
    partitions_two = {r.partition for r in two.records if r.value != PROBE}
    assert not partitions_one & partitions_two


def wait_for_assignment(bus: EventBus, topic: str, *members: Collector) -> None:
    """Publishes probes until every member has handled one, i.e. owns partitions."""

    def every_member_active() -> bool:
        bus.publish([OutgoingRecord(topic, uuid.uuid4().hex, PROBE) for _ in range(16)])
        return all(m.records for m in members)

    wait_for(every_member_active, timeout_s=30, interval_s=0.5, what="partition assignment")
    for member in members:
        member.records.clear()


def test_the_remaining_member_takes_over_when_one_leaves(make_bus: BusFactory, topic: str) -> None:
    bus = make_bus()
    bus.ensure_topics([topic])
    group = f"g-{topic}"
    staying, leaving = Collector(), Collector()
    bus.subscribe(group=group, topics=[topic], handler=staying)
    subscription = make_bus().subscribe(group=group, topics=[topic], handler=leaving)
    wait_for_assignment(bus, topic, staying, leaving)
    subscription.stop()
    sent = publish_numbered(bus, topic, 100, keys=32)

    wait_for(lambda: len(staying.values()) >= 100, timeout_s=30, what="takeover")
    assert sorted(staying.values()) == sorted(sent)


def test_a_new_group_from_latest_sees_only_what_comes_after(
    make_bus: BusFactory, topic: str
) -> None:
    bus = make_bus()
    bus.ensure_topics([topic])
    bus.publish([OutgoingRecord(topic, "k", b"before")])
    collector = Collector()
    bus.subscribe(group=f"g-{topic}", topics=[topic], handler=collector, from_latest=True)
    # Positioned when subscribe returns: what is published right after is seen,
    # with no wait for a group to form (a gateway replica opens its device link
    # right after subscribing to the commands).
    sent = publish_numbered(bus, topic, 20)
    wait_for(lambda: len(collector.values()) >= 20, timeout_s=30, what="the later records")
    assert sorted(collector.values()) == sorted(sent)


class PoisonAware(Collector):
    """Fails on every batch holding a poison value, as a handler fails on a record
    it cannot store; ``outage`` makes every call fail as if the database were away."""

    def __init__(self, poison: bytes) -> None:
        super().__init__()
        self.poison = poison
        self.outage = threading.Event()

    def __call__(self, batch: Sequence[Record]) -> None:
        with self._lock:
            self.calls += 1
            if self.outage.is_set():
                raise ConnectionRefusedError("the database is away (requested by the test)")
            if any(r.value == self.poison for r in batch):
                raise OverflowError("Python int too large to convert to SQLite INTEGER")
            self.records.extend(batch)


def test_a_record_the_handler_cannot_handle_is_dead_lettered_and_the_partition_moves_on(
    make_bus: BusFactory, topic: str
) -> None:
    bus = make_bus()
    bus.ensure_topics([topic, dead_letter_topic(topic)])
    # One key: every record in the same partition, the poison in the middle.
    before = [f"before-{i}".encode() for i in range(20)]
    after = [f"after-{i}".encode() for i in range(20)]
    poison = b"poison"
    bus.publish([OutgoingRecord(topic, "tenant-a", v) for v in [*before, poison, *after]])
    handler = PoisonAware(poison)
    letters = Collector()
    bus.subscribe(group=f"g-{topic}", topics=[topic], handler=handler)
    bus.subscribe(group=f"dlq-{topic}", topics=[dead_letter_topic(topic)], handler=letters)

    wait_for(lambda: len(handler.values()) >= 40, timeout_s=60, what="the records after the poison")
    assert handler.values() == [*before, *after]  # in order, none twice, none lost
    wait_for(lambda: len(letters.records) >= 1, timeout_s=30, what="the dead letter")
    assert len(letters.records) == 1
    letter = DeadLetter.FromString(letters.records[0].value)
    assert (letter.topic, letter.key, letter.value) == (topic, "tenant-a", poison)
    assert letter.group == f"g-{topic}"
    assert letter.reason.startswith("OverflowError: Python int too large")
    assert letter.attempts >= 1


def test_an_outage_is_waited_out_and_dead_letters_nothing(
    make_bus: BusFactory, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pauses that climb to 5 s, as in production, put the 8th try 18 s in; what is
    # checked here is that tries go on without dead-lettering, not how far apart.
    monkeypatch.setattr(delivery, "RETRY_BACKOFF_S", (0.05, 0.2, 0.5))
    bus = make_bus()
    bus.ensure_topics([topic, dead_letter_topic(topic)])
    handler = PoisonAware(poison=b"never sent")
    handler.outage.set()
    letters = Collector()
    bus.subscribe(group=f"g-{topic}", topics=[topic], handler=handler)
    bus.subscribe(group=f"dlq-{topic}", topics=[dead_letter_topic(topic)], handler=letters)
    sent = publish_numbered(bus, topic, 30)

    # Well past the bounded retries of a poison batch.
    wait_for(lambda: handler.calls >= 8, timeout_s=60, what="retries during the outage")
    handler.outage.clear()
    wait_for(lambda: len(handler.values()) >= 30, timeout_s=60, what="the records after it")
    assert sorted(handler.values()) == sorted(sent)
    assert letters.records == []


def test_installations_in_other_namespaces_share_a_broker_without_meeting(
    kafka_bootstrap: str, topic: str
) -> None:
    buses = [
        KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap, namespace=name))
        for name in (f"staging-{topic[-6:]}", f"production-{topic[-6:]}")
    ]
    try:
        collectors = [Collector(), Collector()]
        for bus, collector in zip(buses, collectors, strict=True):
            bus.ensure_topics([topic])
            # The same group and topic names in both installations.
            bus.subscribe(group="g", topics=[topic], handler=collector)
        buses[0].publish([OutgoingRecord(topic, "k", b"staging")])
        buses[1].publish([OutgoingRecord(topic, "k", b"production")])
        wait_for(lambda: all(c.values() for c in collectors), timeout_s=30, what="both records")
        time.sleep(1)  # room for a stray record to arrive
        assert [c.values() for c in collectors] == [[b"staging"], [b"production"]]
        assert collectors[0].records[0].topic == topic  # handlers see the logical name
    finally:
        for bus in buses:
            bus.close()
