"""The Kafka event bus (kafka-python): acks=all, keyed records, consumer groups.

Offsets are committed only after the handler returned, so a member that dies
or a handler that raises gets the same records again (at least once); handlers
are idempotent.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    CommitFailedError,
    KafkaError,
    RebalanceInProgressError,
    TopicAlreadyExistsError,
)

from imcloud_core.bus import BatchHandler, OutgoingRecord, Record, Subscription, stop_all
from imcloud_core.bus.delivery import Delivery
from imcloud_core.errors import ConfigurationError
from imcloud_core.logging import get_logger
from imcloud_core.metrics import BUS_CONSUMER_LAG, BUS_HANDLED, BUS_PUBLISHED
from imcloud_core.settings import KafkaSettings

log = get_logger(__name__)

SETTING = "IMCLOUD_KAFKA__BOOTSTRAP_SERVERS"
# Records can be large telemetry batches; the broker default is 1 MiB.
MAX_RECORD_BYTES = 4 * 1024 * 1024
DELIVERY_TIMEOUT_S = 60.0
# An idle consumer costs CPU for every poll (about 1.5 ms in kafka-python 3) and
# every empty fetch (3.5 ms): at kafka-python's defaults (a fetch held 0.5 s by the
# broker, polled every 0.2 s) 1.5 % of a core each, and a service has several. A
# broker answers a held fetch as soon as a record arrives, so a longer hold costs
# no latency; the poll's length is how long a stop may wait for the member to
# notice (members of a process stop together, see stop_all).
FETCH_MAX_WAIT_MS = 5_000
POLL_TIMEOUT_MS = 500


class KafkaBus:
    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._common: dict[str, Any] = {
            "bootstrap_servers": settings.bootstrap_servers.split(","),
            "client_id": settings.client_id,
            "bootstrap_timeout_ms": int(settings.connect_timeout_s * 1000),
            "security_protocol": settings.security_protocol,
        }
        if settings.sasl_mechanism:
            self._common |= {
                "sasl_mechanism": settings.sasl_mechanism,
                "sasl_plain_username": settings.sasl_username,
                "sasl_plain_password": settings.sasl_password.get_secret_value(),
            }
        if settings.ssl_cafile:
            self._common["ssl_cafile"] = settings.ssl_cafile
        try:
            # The admin client bootstraps eagerly, so a wrong address fails here.
            self._admin = KafkaAdminClient(**self._common, request_timeout_ms=10_000)
            self._producer = KafkaProducer(
                **self._common,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                batch_size=256 * 1024,
                max_request_size=MAX_RECORD_BYTES,
            )
        except KafkaError as exc:
            raise ConfigurationError(
                f"{SETTING}: no Kafka broker answered at {settings.bootstrap_servers} "
                f"within {settings.connect_timeout_s:g} s ({type(exc).__name__})"
            ) from None
        self._subscriptions: list[_KafkaMember] = []

    def name(self, logical: str) -> str:
        """The name on the cluster of a topic or group of this installation."""
        namespace = self._settings.namespace
        return f"{namespace}.{logical}" if namespace else logical

    def logical(self, name: str) -> str:
        namespace = self._settings.namespace
        return name.removeprefix(f"{namespace}.") if namespace else name

    def ensure_topics(self, topics: Sequence[str]) -> None:
        topics = [self.name(topic) for topic in topics]
        existing = set(self._admin.list_topics())
        missing = [
            NewTopic(
                name=topic,
                num_partitions=self._settings.topic_partitions,
                replication_factor=self._settings.replication_factor,
                topic_configs={"max.message.bytes": str(MAX_RECORD_BYTES)},
            )
            for topic in topics
            if topic not in existing
        ]
        if missing:
            # Another process may have created one of them in the meantime.
            with contextlib.suppress(TopicAlreadyExistsError):
                self._admin.create_topics(missing)
            log.info("created kafka topics", topics=[t.name for t in missing])

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        futures = [
            self._producer.send(self.name(r.topic), key=r.key.encode(), value=r.value)
            for r in records
        ]
        for record, future in zip(records, futures, strict=True):
            future.get(timeout=DELIVERY_TIMEOUT_S)  # raises the delivery error, if any
            BUS_PUBLISHED.labels(record.topic).inc()

    def subscribe(
        self,
        *,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler,
        max_records: int | None = None,
        from_latest: bool = False,
    ) -> Subscription:
        records = max_records or self._settings.max_poll_records
        consumer = (
            self._positioned_at_end(list(topics), records)
            if from_latest
            else self._consumer(group, list(topics), records)
        )
        member = _KafkaMember(self, group, consumer, handler, committing=not from_latest)
        self._subscriptions.append(member)
        member.start()
        return member

    def ping(self) -> None:
        self._admin.describe_cluster()

    def close(self) -> None:
        stop_all(self._subscriptions)
        self._producer.close(timeout=10)
        self._admin.close()

    def _consumer(self, group: str, topics: list[str], max_records: int) -> KafkaConsumer:
        consumer = KafkaConsumer(
            **self._common,
            group_id=self.name(group),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            max_partition_fetch_bytes=MAX_RECORD_BYTES,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            # A member that stops polling for this long is dropped from the group
            # and its partitions go to the others.
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        # A member joining before the cluster's metadata has the topics' partitions
        # (just created by another process) gets an empty assignment; one such
        # member was seen to spin on its coordinator and never consume.
        self._partitions(consumer, topics)
        consumer.subscribe([self.name(topic) for topic in topics])
        return consumer

    def _partitions(self, consumer: KafkaConsumer, topics: list[str]) -> list[TopicPartition]:
        """Every partition of ``topics``, once the cluster's metadata has them all."""
        deadline = time.monotonic() + self._settings.connect_timeout_s
        partitions: list[TopicPartition] = []
        for topic in topics:
            name = self.name(topic)
            while not (numbers := consumer.partitions_for_topic(name)):
                if time.monotonic() > deadline:
                    consumer.close()
                    raise ConfigurationError(f"{SETTING}: topic {name} has no partitions")
                time.sleep(0.1)
            partitions += [TopicPartition(name, number) for number in sorted(numbers)]
        return partitions

    def _positioned_at_end(self, topics: list[str], max_records: int) -> KafkaConsumer:
        """A consumer of every partition of ``topics`` from their current ends, with
        no group: what one process alone reads from now on. Its position is fixed
        before this returns, so nothing published afterwards is missed, and no
        group is left behind in the cluster when the process goes."""
        consumer = KafkaConsumer(
            **self._common,
            group_id=None,
            enable_auto_commit=False,
            max_poll_records=max_records,
            max_partition_fetch_bytes=MAX_RECORD_BYTES,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        partitions = self._partitions(consumer, topics)
        consumer.assign(partitions)
        consumer.seek_to_end()
        for partition in partitions:
            consumer.position(partition)  # resolves the end offset now
        return consumer


class _KafkaMember:
    def __init__(
        self,
        bus: KafkaBus,
        group: str,
        consumer: KafkaConsumer,
        handler: BatchHandler,
        *,
        committing: bool,
    ) -> None:
        self._bus = bus
        self.group = group
        self._consumer = consumer
        self._committing = committing
        self._stopping = threading.Event()
        self._delivery = Delivery(
            group=group, handler=handler, publish=bus.publish, stopping=self._stopping
        )
        self._thread = threading.Thread(target=self._run, name=f"kafka-{group}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def begin_stop(self) -> None:
        self._stopping.set()

    def stop(self) -> None:
        self.begin_stop()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                polled = self._consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                if not polled:
                    continue
                batch = [
                    Record(
                        topic=self._bus.logical(m.topic),
                        partition=m.partition,
                        offset=m.offset,
                        key=m.key.decode() if m.key else "",
                        value=m.value,
                    )
                    for messages in polled.values()
                    for m in messages
                ]
                if not self._delivery.deliver(batch):
                    for partition, messages in polled.items():
                        self._consumer.seek(partition, messages[0].offset)
                    continue
                self._commit(polled)
        finally:
            # Leave the group at once so its partitions move to other members now,
            # not after the session timeout; nothing uncommitted is committed here.
            self._consumer.close(autocommit=False)

    def _commit(self, polled: dict[TopicPartition, list[Any]]) -> None:
        try:
            if self._committing:
                self._consumer.commit()
        except (CommitFailedError, RebalanceInProgressError):
            # The group rebalanced (or is rebalancing) while we handled the batch:
            # the new owner of these partitions gets the records again (at least once).
            log.warning(
                "commit refused after a rebalance; records will be redelivered", group=self.group
            )
            return
        for partition, messages in polled.items():
            topic = self._bus.logical(partition.topic)
            BUS_HANDLED.labels(topic, self.group).inc(len(messages))
            highwater = self._consumer.highwater(partition)
            if highwater is not None:
                BUS_CONSUMER_LAG.labels(topic, self.group, str(partition.partition)).set(
                    max(highwater - messages[-1].offset - 1, 0)
                )
