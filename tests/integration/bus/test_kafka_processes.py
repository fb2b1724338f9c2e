"""Kafka delivery between separate OS processes, through the real broker."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from imcloud_core.bus import OutgoingRecord
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.settings import KafkaSettings
from tests.integration.bus.test_bus_contract import Collector
from tests.support.waiting import wait_for

WORKER = Path(__file__).with_name("bus_process.py")


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    name = f"test.processes.{uuid.uuid4().hex[:12]}"
    bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_partitions=4))
    bus.ensure_topics([name])
    bus.close()
    return name


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def spawn(started: list[subprocess.Popen[bytes]], *args: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, str(WORKER), *args])
    started.append(process)
    return process


def lines(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    return [(int(p), int(v)) for p, v in (line.split() for line in path.read_text().splitlines())]


def test_a_group_in_this_process_consumes_what_another_process_published(
    kafka_bootstrap: str, topic: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    publisher = spawn(
        processes, "publish", "--bootstrap", kafka_bootstrap, "--topic", topic, "--count", "300"
    )
    assert publisher.wait(timeout=60) == 0
    bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    collector = Collector()
    bus.subscribe(group=f"g-{topic}", topics=[topic], handler=collector)
    try:
        wait_for(lambda: len(collector.values()) >= 300, timeout_s=60, what="300 records")
        assert sorted(int(v) for v in collector.values()) == list(range(300))
    finally:
        bus.close()


def test_records_of_a_consumer_killed_before_commit_are_delivered_again(
    kafka_bootstrap: str, topic: str, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    group = f"g-{topic}"
    seen_by_doomed = tmp_path / "doomed.txt"
    doomed = spawn(
        processes,
        "consume",
        "--bootstrap",
        kafka_bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--out",
        str(seen_by_doomed),
        "--never-commit",
    )
    publisher = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    publisher.publish([OutgoingRecord(topic, f"k{i}", str(i).encode()) for i in range(100)])
    wait_for(lambda: lines(seen_by_doomed), timeout_s=60, what="the doomed consumer's batch")
    doomed.kill()
    doomed.wait()

    survivor = Collector()
    publisher.subscribe(group=group, topics=[topic], handler=survivor)
    try:
        delivered_before = {v for _, v in lines(seen_by_doomed)}
        wait_for(
            lambda: delivered_before <= {int(v) for v in survivor.values()},
            timeout_s=90,
            interval_s=0.5,
            what="redelivery of the uncommitted records",
        )
        wait_for(lambda: len(set(survivor.values())) >= 100, timeout_s=60)
        assert {int(v) for v in survivor.values()} == set(range(100))
    finally:
        publisher.close()


def test_two_consumer_processes_in_one_group_split_the_partitions(
    kafka_bootstrap: str, topic: str, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    group = f"g-{topic}"
    outputs = [tmp_path / "one.txt", tmp_path / "two.txt"]
    for out in outputs:
        spawn(
            processes,
            "consume",
            "--bootstrap",
            kafka_bootstrap,
            "--topic",
            topic,
            "--group",
            group,
            "--out",
            str(out),
        )
    publisher = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    try:
        # Warm-up records (negative numbers) until both members hold partitions.
        warmup = iter(range(-1, -100_000, -1))

        def both_consuming() -> bool:
            publisher.publish(
                [OutgoingRecord(topic, f"w{n}", str(n).encode()) for n in next_n(warmup, 16)]
            )
            return all(lines(out) for out in outputs)

        wait_for(both_consuming, timeout_s=90, interval_s=1.0, what="both members consuming")
        publisher.publish([OutgoingRecord(topic, f"k{i}", str(i).encode()) for i in range(400)])

        def measured() -> list[list[tuple[int, int]]]:
            return [[(p, v) for p, v in lines(out) if v >= 0] for out in outputs]

        wait_for(lambda: sum(map(len, measured())) >= 400, timeout_s=60, what="400 records")
    finally:
        publisher.close()
    one, two = measured()
    assert sorted(v for _, v in one + two) == list(range(400)), "lost or doubled records"
    assert one, "the other process got every partition"
    assert two, "the other process got every partition"
    assert not {p for p, _ in one} & {p for p, _ in two}, "a partition was consumed by both"


def next_n(numbers: Iterator[int], count: int) -> list[int]:
    return [next(numbers) for _ in range(count)]
