"""No tenant can block another: a record the products service cannot store is set
aside on the dead-letter topic with its reason, and every other tenant's data on
the same partition is stored (real Kafka and PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx
from kafka.partitioner.default import murmur2

from imcloud.common.v1.events_pb2 import DeadLetter
from imcloud.products.v1 import telemetry_pb2
from imcloud_core.bus import OutgoingRecord, Record
from imcloud_core.bus.delivery import dead_letter_topic
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.events import Topic, new_envelope
from imcloud_core.settings import KafkaSettings
from imcloud_device import Command, CommandOutcome, DeviceClient
from tests.support.api import Tenant
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

SIGNAL = "spindle_speed"
# The platform's topics are created with imcloud's default partition count.
PARTITIONS = KafkaSettings().topic_partitions


def send(base_url: str, secret: str, sequence_id: int, stamps: list[int]) -> None:
    response = httpx.post(
        f"{base_url}/v1/device/telemetry",
        headers={"Authorization": f"Bearer {secret}"},
        json={
            "sequence_id": sequence_id,
            "series": [{"signal": SIGNAL, "timestamps_ms": stamps, "values": [1.0] * len(stamps)}],
        },
    )
    assert response.status_code == 200, response.text


def partition_of(key: str) -> int:
    """Where Kafka's default partitioner puts a key on imcloud's topics."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def on_the_partition_of(world: World, equipment_id: str) -> str:
    """One of the world's machines on the same partition as ``equipment_id``,
    with a device credential of its own."""
    wanted = partition_of(equipment_id)
    for key, candidate in world.ids.items():
        if key.startswith("equipment_id") and partition_of(candidate) == wanted:
            response = world.tenant.post(f"/v1/equipment/{candidate}/credentials", {})
            assert response.status_code == 201, response.text
            world.device_secrets[candidate] = response.json()["secret"]
            return candidate
    raise AssertionError("no machine of the world shares the partition; onboard more")


def stored(tenant: Tenant, equipment_id: str, start_ms: int) -> int:
    window = {
        "start": datetime.fromtimestamp(start_ms / 1000, UTC).isoformat(),
        "end": datetime.fromtimestamp(start_ms / 1000 + 3600, UTC).isoformat(),
    }
    page = tenant.get(f"/v1/equipment/{equipment_id}/telemetry", signal=[SIGNAL], **window).json()
    return sum(len(s["timestamps_ms"]) for s in page["series"])


def test_a_batch_the_store_cannot_hold_is_dead_lettered_and_blocks_no_tenant(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    mallory = onboard(base, "Mallory", machines=1)
    poisoned = mallory.ids["equipment_id"]
    # Enough machines that one lands on the poisoned machine's partition (1 in 6).
    acme = onboard(base, "Acme", machines=40)
    neighbour = on_the_partition_of(acme, poisoned)
    start_ms = (int(time.time()) - 600) * 1000
    stamps = [start_ms + 1000 * i for i in range(10)]

    # As a gateway of an older version would have let through: a sequence id the
    # store's bigint cannot hold. Published on the machine's own partition.
    batch = telemetry_pb2.TelemetryRecorded(equipment_id=poisoned, sequence_id=2**63 + 7)
    series = batch.series.add().series
    series.signal = SIGNAL
    series.timestamps_ms.extend(stamps)
    series.values.extend([1.0] * len(stamps))
    batch.receive_time.GetCurrentTime()
    envelope = new_envelope(
        tenant_id=mallory.tenant.id,
        event_type="telemetry.recorded",
        payload=batch,
        source="test",
        event_id=f"{poisoned}/{batch.sequence_id}",
    )
    bus = KafkaBus(distributed_platform.kafka_settings())
    letters: list[Record] = []
    try:
        bus.subscribe(
            group=f"test-dlq-{uuid.uuid4().hex[:8]}",
            topics=[dead_letter_topic(Topic.TELEMETRY)],
            handler=letters.extend,
            from_latest=True,
        )
        time.sleep(2)  # the group's position is set before the poison is published
        bus.publish([OutgoingRecord(Topic.TELEMETRY, poisoned, envelope.SerializeToString())])

        # Right behind it, on the same partition: the same machine and another tenant.
        send(base, mallory.device_secrets[poisoned], 1, stamps)
        send(base, acme.device_secrets[neighbour], 1, stamps)
        wait_for(
            lambda: stored(acme.tenant, neighbour, start_ms) == 10,
            timeout_s=90,
            what="the other tenant's points",
        )
        assert stored(mallory.tenant, poisoned, start_ms) == 10  # its good batch, once

        wait_for(lambda: letters, timeout_s=30, what="the dead letter")
    finally:
        bus.close()
    letter = DeadLetter.FromString(letters[0].value)
    assert letter.topic == Topic.TELEMETRY
    assert letter.key == poisoned
    assert letter.value == envelope.SerializeToString()
    assert letter.group.startswith("products.")
    assert letter.reason


GARBAGE = b"\xff not a command"


def test_a_command_record_the_relay_cannot_send_is_dead_lettered_and_blocks_no_command(
    distributed_platform: RunningPlatform,
) -> None:
    acme = onboard(distributed_platform.base_url, "Acme", machines=1)
    machine = acme.ids["equipment_id"]
    bus = KafkaBus(distributed_platform.kafka_settings())
    letters: list[Record] = []
    seen: list[str] = []

    def answer(command: Command) -> tuple[CommandOutcome, str]:
        seen.append(command.name)
        return CommandOutcome.SUCCEEDED, "done"

    client = DeviceClient(
        distributed_platform.device_link, acme.device_secrets[machine], on_command=answer
    ).start()
    try:
        bus.subscribe(
            group=f"test-dlq-{uuid.uuid4().hex[:8]}",
            topics=[dead_letter_topic(Topic.COMMANDS)],
            handler=letters.extend,
            from_latest=True,
        )
        client.record(SIGNAL, 1.0)
        assert client.flush(timeout_s=30), "the link did not come up"
        # Bytes no relay can read, on the machine's own partition of the commands.
        bus.publish([OutgoingRecord(Topic.COMMANDS, machine, GARBAGE)])
        sent = acme.tenant.post(f"/v1/equipment/{machine}/commands", {"name": "set_speed"})
        assert sent.status_code == 202, sent.text
        wait_for(lambda: "set_speed" in seen, timeout_s=60, what="the command behind it")
        wait_for(lambda: letters, timeout_s=30, what="the dead letter")
    finally:
        client.close()
        bus.close()
    letter = DeadLetter.FromString(letters[0].value)
    assert (letter.topic, letter.key, letter.value) == (
        Topic.COMMANDS,
        machine,
        b"\xff not a command",
    )
    assert letter.group.startswith("gateway.")
