"""A separate OS process that publishes to or consumes from the Kafka bus.

Used by test_kafka_processes.py: the broker, not shared memory, must carry
records and group membership between processes.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
from pathlib import Path

from imcloud_core.bus import OutgoingRecord, Record
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.settings import KafkaSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["publish", "consume"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--group", default="")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--never-commit", action="store_true", help="record what arrives, then hang in the handler"
    )
    args = parser.parse_args()
    bus = KafkaBus(KafkaSettings(bootstrap_servers=args.bootstrap, topic_partitions=4))

    if args.role == "publish":
        bus.publish(
            [OutgoingRecord(args.topic, f"k{i % 16}", str(i).encode()) for i in range(args.count)]
        )
        bus.close()
        return

    out = args.out.open("a", buffering=1)
    hang = threading.Event()

    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            out.write(f"{record.partition} {record.value.decode()}\n")
        if args.never_commit:
            hang.wait()  # dies here, killed by the test, before the commit

    bus.subscribe(group=args.group, topics=[args.topic], handler=handle)
    threading.Event().wait()


if __name__ == "__main__":
    main()
