"""The gateway's MQTT endpoint on real Kafka and PostgreSQL, the platform distributed
(one process per service) as in telemetry_bench, whose parts this reuses.

Measures, in one run on this machine:
1. ingest end to end: MACHINES machines at stations (production tracking them, as in
   telemetry_bench) publish at QoS 1 on ThingsBoard's telemetry topic, each message a
   JSON list of ENTRIES {ts, values} entries of the 10 signals: 500 points, what a
   machine sampling its signals at 10 Hz and publishing every 5 s sends. Flat out
   (IN_FLIGHT messages awaiting their PUBACK per machine, as tests.bench.load keeps
   batches in flight), then paced at PACED_RATE points/s: points PUBACKed and points
   queryable per second, publish -> PUBACK latency of every message, and publish ->
   queryable latency of a probe machine's messages (the same 500 points) found
   through the REST API. Beside each MQTT run, the same points in batches of the same
   size go through the gRPC device link (telemetry_bench.end_to_end, whose probe
   sends over HTTP), in turns (MQTT, gRPC, gRPC, MQTT), so both rows see the same
   store and the same noise. Points count as stored when the machines' own signals
   hold them all (not the anomaly scores the platform derives from them);
2. connections held: CONNECTIONS machines, each with a credential of its own,
   onboarded through the REST API, connected to one gateway (paho clients driven by
   one selector loop, no thread each) and held HOLD_S s with keep-alive pings while
   one in SAMPLE_EVERY publishes a snapshot every SAMPLE_PERIOD_S; how many were
   held, refused and dropped, the pings answered, and the gateway's memory and CPU.

Prints a table and writes it to tests/bench/results/mqtt.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import selectors
import statistics
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text

from tests.bench import telemetry_bench
from tests.bench.telemetry_bench import (
    MACHINES,
    RESULTS,
    SIGNAL_NAMES,
    SIGNALS,
    Platform,
    Run,
    created,
    distributed_platform,
    onboard,
    production_batches,
    say,
    wait_placed,
)
from tests.conftest import POSTGRES_URL, FreshDatabases
from tests.support.api import Tenant, sign_up
from tests.support.waiting import wait_for

TELEMETRY = "v1/devices/me/telemetry"
# A message: 50 samples at 10 Hz of the 10 signals, 500 points, about 9 kB of JSON.
ENTRIES = 50
SAMPLE_MS = 100
MESSAGE_POINTS = ENTRIES * SIGNALS
IN_FLIGHT = 4
# Per turn 20 machines x 50 messages: 500,000 points, through either link.
MESSAGES_PER_MACHINE = 50
TURNS = ("mqtt", "grpc", "grpc", "mqtt")
PACED_RATE = 20_000
PACED_S = 20
PACED_MESSAGES = PACED_RATE * PACED_S // (MACHINES * MESSAGE_POINTS)
# The connections: each its own machine with its own credential. Onboarding them
# through the REST API and connecting them (each some 25 a second on this machine)
# take most of the time of this part (--connections to change).
CONNECTIONS = 2000
ONBOARDING_THREADS = 8
# Connections between TCP connect and CONNACK at once (the listen backlog is 100).
OPENING = 64
KEEP_ALIVE_S = 20
HOLD_S = 60
SAMPLE_EVERY = 50
SAMPLE_PERIOD_S = 5.0


@dataclass
class Table:
    """Rows of the report: a measure, its MQTT figure and the gRPC one beside it."""

    rows: list[tuple[str, float, float | None, str]] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)

    def add(self, name: str, mqtt_value: float, grpc_value: float | None, unit: str) -> None:
        self.rows.append((name, mqtt_value, grpc_value, unit))
        beside = "" if grpc_value is None else f" (gRPC {grpc_value:,.1f})"
        say(f"{name}: {mqtt_value:,.1f}{beside} {unit}")


# -- MQTT clients, many on one thread ------------------------------------------------


class Device:
    """One machine's MQTT connection (MQTT 5), driven by a Fleet's loop."""

    def __init__(self, fleet: Fleet, name: str, secret: str, *, count_pings: bool = False):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        client.username_pw_set("machine", secret)
        client.user_data_set(self)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_publish = self._acknowledged
        client.on_socket_open = fleet.opened
        client.on_socket_close = fleet.closed
        client.on_socket_register_write = fleet.want_write
        client.on_socket_unregister_write = fleet.written
        if count_pings:
            client.on_log = self._logged
        self.client = client
        # The CONNACK's reason code; None until it came.
        self.connack: int | None = None
        self.failed = ""  # why the connection could not be opened or was lost
        self.leaving = False
        self.lost_at: float | None = None
        # mid -> when it was published, and its points
        self.in_flight: dict[int, tuple[float, int]] = {}
        self.acked_points = 0
        self.acked = 0
        self.refused: list[str] = []
        self.ack_ms: list[float] = []
        self.pings = 0

    @property
    def settled(self) -> bool:
        return self.connack is not None or bool(self.failed)

    @property
    def held(self) -> bool:
        return self.connack == 0 and self.lost_at is None

    def publish(self, payload: bytes, points: int) -> None:
        info = self.client.publish(TELEMETRY, payload, qos=1)
        self.in_flight[info.mid] = (time.perf_counter(), points)

    def _connected(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connack = reason.value

    def _disconnected(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self.leaving:
            return
        self.lost_at = time.monotonic()
        self.failed = self.failed or f"lost: {reason}"
        if self.connack is None:
            self.connack = -1

    def _acknowledged(self, _c: Any, _u: Any, mid: int, reason: Any, properties: Any) -> None:
        sent, points = self.in_flight.pop(mid)
        self.ack_ms.append((time.perf_counter() - sent) * 1000)
        detail = str(getattr(properties, "ReasonString", "")) if properties else ""
        if reason.value != 0 or detail:
            self.refused.append(f"{reason}: {detail}")
        else:
            self.acked += 1
            self.acked_points += points

    def _logged(self, _c: Any, _u: Any, _level: int, message: str) -> None:
        if message == "Received PINGRESP":
            self.pings += 1


class Fleet(threading.Thread):
    """Runs paho clients through their external-loop API (socket(), loop_read(),
    loop_write(), loop_misc()) from one selector, on a thread of its own; work for
    the clients is handed to it with ``call`` or done by ``ticks`` on every turn."""

    def __init__(self) -> None:
        super().__init__(name="mqtt-fleet", daemon=True)
        self.selector = selectors.DefaultSelector()
        self.devices: list[Device] = []
        self.ticks: list[Callable[[], None]] = []
        self.error: BaseException | None = None
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._misc_at = 0.0
        # The longest turn of the loop since the last look: how late the clients
        # themselves could have read or written.
        self.longest_turn_s = 0.0

    # paho's socket callbacks (on the loop's thread)
    def opened(self, _c: Any, device: Device, sock: Any) -> None:
        self.selector.register(sock, selectors.EVENT_READ, device)

    def closed(self, _c: Any, _d: Device, sock: Any) -> None:
        with suppress(KeyError, ValueError):
            self.selector.unregister(sock)

    def want_write(self, _c: Any, device: Device, sock: Any) -> None:
        self.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, device)

    def written(self, _c: Any, device: Device, sock: Any) -> None:
        with suppress(KeyError, ValueError):  # closed meanwhile
            self.selector.modify(sock, selectors.EVENT_READ, device)

    def call(self, work: Callable[[], None]) -> None:
        self._calls.put(work)

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                while True:
                    try:
                        self._calls.get_nowait()()
                    except queue.Empty:
                        break
                began = time.perf_counter()
                for tick in list(self.ticks):
                    tick()
                self._poll(0.002)
                self.longest_turn_s = max(self.longest_turn_s, time.perf_counter() - began)
        except BaseException as error:
            self.error = error
            raise

    def _poll(self, timeout_s: float) -> None:
        for key, events in self.selector.select(timeout_s):
            client = key.data.client
            if events & selectors.EVENT_READ:
                client.loop_read()
            if events & selectors.EVENT_WRITE:
                client.loop_write()
        now = time.monotonic()
        if now - self._misc_at >= 0.5:  # keep-alive pings, and their answers awaited
            self._misc_at = now
            for device in self.devices:
                if device.client.socket() is not None:
                    device.client.loop_misc()

    def check(self) -> None:
        if self.error is not None:
            raise AssertionError("the MQTT client loop failed") from self.error
        if not self.is_alive():
            raise AssertionError("the MQTT client loop is not running")

    def wait(self, done: Callable[[], bool], *, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            self.check()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            time.sleep(0.02)

    def open(self, devices: list[Device], port: int, *, keep_alive_s: int) -> None:
        """Connects the devices, at most OPENING awaiting their CONNACK at a time."""
        waiting = deque(devices)
        opening: list[Device] = []

        def tick() -> None:
            opening[:] = [d for d in opening if not d.settled]
            while waiting and len(opening) < OPENING:
                device = waiting.popleft()
                self.devices.append(device)
                try:
                    device.client.connect("127.0.0.1", port, keepalive=keep_alive_s)
                except OSError as error:
                    device.failed = f"connect: {error}"
                    continue
                opening.append(device)
            if not waiting and not opening:
                self.ticks.remove(tick)

        self.call(lambda: self.ticks.append(tick))

    def close(self) -> None:
        """Disconnects every device (a DISCONNECT each) and stops the loop."""

        def leave() -> None:
            for device in self.devices:
                device.leaving = True
                if device.client.socket() is not None:
                    device.client.disconnect()

        self.call(leave)
        self.wait(lambda: not self.selector.get_map(), timeout_s=120, what="every disconnect")
        self._stopping.set()
        self.join(timeout=10)
        self.selector.close()


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q)) if samples else float("nan")


# -- 1: ingest end to end, MQTT beside gRPC -----------------------------------------


def messages(first_ms: int, count: int) -> list[bytes]:
    """``count`` messages of ENTRIES samples each, SAMPLE_MS apart from ``first_ms``,
    the values ramping 0..49 as tests.bench.load's batches of 50 per signal do."""
    return [
        json.dumps(
            [
                {
                    "ts": first_ms + (number * ENTRIES + k) * SAMPLE_MS,
                    "values": dict.fromkeys(SIGNAL_NAMES, float(k % 97)),
                }
                for k in range(ENTRIES)
            ]
        ).encode()
        for number in range(count)
    ]


class Publisher:
    """Publishes each device's messages (the same for every machine), IN_FLIGHT at
    most awaiting their PUBACK, flat out or paced at ``rate`` points/s in all (on
    the fleet's thread, as one of its ticks)."""

    def __init__(self, devices: list[Device], payloads: list[bytes], rate: float) -> None:
        self.devices = devices
        self.payloads = payloads
        self.interval_s = len(devices) * MESSAGE_POINTS / rate if rate else 0.0
        start = time.perf_counter()
        # Paced machines start evenly spread over one interval.
        self.due = [start + i * self.interval_s / len(devices) for i in range(len(devices))]
        self.next = [0] * len(devices)
        self.started = start
        self.last_ack = start
        self.done = threading.Event()

    def tick(self) -> None:
        now = time.perf_counter()
        for i, device in enumerate(self.devices):
            while (
                self.next[i] < len(self.payloads)
                and len(device.in_flight) < IN_FLIGHT
                and self.due[i] <= now
            ):
                device.publish(self.payloads[self.next[i]], MESSAGE_POINTS)
                self.next[i] += 1
                self.due[i] += self.interval_s
        answered = sum(d.acked + len(d.refused) for d in self.devices)
        if answered == len(self.devices) * len(self.payloads) and not self.done.is_set():
            self.last_ack = now
            self.done.set()


class MqttProbe(threading.Thread):
    """Has the probe machine publish a message like the load's (500 points, its last
    sample now) every 200 ms, and times until the REST API returns its last point."""

    def __init__(self, fleet: Fleet, device: Device, tenant: Tenant, machine_id: str) -> None:
        super().__init__(daemon=True)
        self.fleet = fleet
        self.device = device
        self.tenant = tenant
        self.machine_id = machine_id
        self.latencies_ms: list[float] = []
        self.sent = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            last_ms = int(time.time() * 1000)
            sent = self._publish(messages(last_ms - (ENTRIES - 1) * SAMPLE_MS, 1)[0])
            self.sent += 1
            since = datetime.fromtimestamp(last_ms / 1000, UTC)
            query = {
                "start": since.isoformat(),
                "end": datetime.fromtimestamp((last_ms + 1) / 1000, UTC).isoformat(),
                "signal": SIGNAL_NAMES[-1],
            }
            while time.perf_counter() - sent < 30:
                found = self.tenant.get(f"/v1/equipment/{self.machine_id}/telemetry", **query)
                if found.status_code == 200 and found.json()["series"]:
                    self.latencies_ms.append((time.perf_counter() - sent) * 1000)
                    break
                time.sleep(0.005)

    def _publish(self, payload: bytes) -> float:
        """Publishes on the fleet's thread; when it did."""
        published: queue.SimpleQueue[float] = queue.SimpleQueue()

        def send() -> None:
            self.device.publish(payload, MESSAGE_POINTS)
            published.put(time.perf_counter())

        self.fleet.call(send)
        return published.get(timeout=30)


@dataclass
class MqttRun:
    run: Run
    puback_ms: list[float]


def mqtt_end_to_end(platform: Platform, *, rate: float, count: int) -> MqttRun:
    """As telemetry_bench.end_to_end, over MQTT: a fresh fleet streams, flat out
    (rate 0) or paced, and the run is timed until every point is stored."""
    env = platform.env
    say(f"MQTT: onboarding {MACHINES} machines with {SIGNALS} signals, production tracking")
    tenant, fleet_machines = onboard(platform.ports.base_url, MACHINES + 1, tracked=True)
    wait_placed(env["IMCLOUD_DATABASE_URLS__PRODUCTION"], fleet_machines)
    probe_machine, load_machines = fleet_machines[0], fleet_machines[1:]
    fleet = Fleet()
    fleet.start()
    devices = [Device(fleet, f"bench-{m['id']}", str(m["credential"])) for m in load_machines]
    probe_device = Device(fleet, "bench-probe", str(probe_machine["credential"]))
    fleet.open([*devices, probe_device], platform.ports.mqtt, keep_alive_s=30)
    fleet.wait(
        lambda: all(d.settled for d in [*devices, probe_device]), timeout_s=60, what="CONNACKs"
    )
    assert all(d.connack == 0 for d in [*devices, probe_device]), [d.failed for d in devices]
    first_ms = int(time.time() * 1000) - 86_400_000
    payloads = messages(first_ms, count)
    total = MACHINES * count * MESSAGE_POINTS
    pace = f"at {rate:,.0f} points/s" if rate else "as fast as PUBACKs come"
    say(
        f"MQTT: publishing {total:,} points from {MACHINES} machines {pace}, "
        f"{count} messages each of {ENTRIES} entries x {SIGNALS} signals ({MESSAGE_POINTS} "
        f"points, {len(payloads[0]):,} bytes)"
    )
    products_db = env["IMCLOUD_DATABASE_URLS__PRODUCTS"]
    probe_id = str(probe_machine["id"])
    before = stored_signal_points(products_db, except_machine=probe_id)
    taken_before = production_batches(platform.production_metrics)
    cpu_before = platform.cpu_seconds()
    probe = MqttProbe(fleet, probe_device, tenant, probe_id)
    probe.start()
    publisher = Publisher(devices, payloads, rate)
    fleet.call(lambda: fleet.ticks.append(publisher.tick))
    last_report = time.perf_counter()
    while not publisher.done.wait(0.1):
        fleet.check()
        if time.perf_counter() - last_report > 5:
            acked = sum(d.acked_points for d in devices)
            say(f"  PUBACKed {acked:,} of {total:,}")
            last_report = time.perf_counter()
    fleet.call(lambda: fleet.ticks.remove(publisher.tick))
    refused = [r for d in devices for r in d.refused]
    assert not refused, refused[:5]
    acked_at = time.perf_counter()
    while (stored := stored_signal_points(products_db, except_machine=probe_id) - before) < total:
        fleet.check()
        if time.perf_counter() - last_report > 5:
            say(f"  stored {stored:,} of {total:,}")
            last_report = time.perf_counter()
        if time.perf_counter() - publisher.started > 600:
            raise AssertionError(f"only {stored} of {total} points stored after 10 min")
        time.sleep(0.05)
    elapsed = time.perf_counter() - publisher.started
    probe.stopping.set()
    probe.join()
    fleet.wait(lambda: not probe_device.in_flight, timeout_s=30, what="the probe's PUBACK")
    fleet.close()
    queryable_through_rest(tenant, load_machines, first_ms, count)
    batches_sent = taken_before + MACHINES * count + probe.sent
    wait_for(
        lambda: production_batches(platform.production_metrics) >= batches_sent,
        timeout_s=600,
        interval_s=0.1,
        what=f"production taking {batches_sent - taken_before:,.0f} batches",
    )
    cpu_after = platform.cpu_seconds()
    run = Run(
        tracked=True,
        acknowledged=total / (publisher.last_ack - publisher.started),
        queryable=total / elapsed,
        latencies_ms=probe.latencies_ms,
        production_lag_s=time.perf_counter() - acked_at,
        cpu_ms_per_batch={
            service: (cpu_after[service] - cpu_before[service]) * 1000 / (MACHINES * count)
            for service in cpu_after
        },
    )
    puback_ms = [ms for d in devices for ms in d.ack_ms]
    say(
        f"  {run.queryable:,.0f} points/s queryable, {run.acknowledged:,.0f} points/s "
        f"PUBACKed; PUBACK p50 {statistics.median(puback_ms):,.0f} ms; production had every "
        f"batch {run.production_lag_s:,.1f} s after the last PUBACK; CPU per message: "
        + ", ".join(f"{s} {ms:,.1f} ms" for s, ms in run.cpu_ms_per_batch.items())
    )
    return MqttRun(run, puback_ms)


def queryable_through_rest(
    tenant: Tenant, machines: list[dict[str, object]], first_ms: int, count: int
) -> None:
    """Every machine's points counted through the REST API's aggregates."""
    window = {
        "start": datetime.fromtimestamp(first_ms / 1000, UTC).isoformat(),
        "end": datetime.fromtimestamp(
            (first_ms + count * ENTRIES * SAMPLE_MS) / 1000, UTC
        ).isoformat(),
        "bucket_s": 86_400,
    }
    for machine in machines:
        answer = tenant.get(f"/v1/equipment/{machine['id']}/telemetry/aggregates", **window)
        assert answer.status_code == 200, answer.text
        counted = sum(sum(s["count"]) for s in answer.json()["signals"])
        assert counted == count * MESSAGE_POINTS, f"{counted} of {count * MESSAGE_POINTS} points"


def stored_signal_points(url: str, *, except_machine: str) -> int:
    """As telemetry_bench.stored_points, but of the machines' own signals only: the
    products service stores an anomaly score per sampled time too (``_anomaly_score``,
    one point per 10 here), counted there, so its total is reached before the last
    of the machines' points is stored."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(*) FROM telemetry_points p JOIN telemetry_series s "
                        "ON s.id = p.series_id WHERE s.equipment_id <> :machine "
                        "AND s.signal NOT LIKE '\\_%'"
                    ),
                    {"machine": except_machine},
                ).scalar_one()
            )
    finally:
        engine.dispose()


@contextmanager
def as_mqtt_turns() -> Iterator[None]:
    """telemetry_bench.end_to_end, for the gRPC turns, in batches of the MQTT
    message's size (it sends POINTS_PER_SIGNAL per signal) and counting what is
    stored as the MQTT turns do."""
    saved = telemetry_bench.POINTS_PER_SIGNAL, telemetry_bench.stored_points
    telemetry_bench.POINTS_PER_SIGNAL = ENTRIES
    telemetry_bench.stored_points = stored_signal_points
    try:
        yield
    finally:
        telemetry_bench.POINTS_PER_SIGNAL, telemetry_bench.stored_points = saved


def ingest(platform: Platform, table: Table) -> None:
    mqtt_runs: list[MqttRun] = []
    grpc_runs: list[Run] = []
    for turn, link in enumerate(TURNS, 1):
        say(f"turn {turn} of {len(TURNS)}: {link}, flat out")
        if link == "mqtt":
            mqtt_runs.append(mqtt_end_to_end(platform, rate=0, count=MESSAGES_PER_MACHINE))
        else:
            with as_mqtt_turns():
                grpc_runs.append(
                    telemetry_bench.end_to_end(
                        platform, rate=0, batches=MESSAGES_PER_MACHINE, tracked=True
                    )
                )
    say(f"paced at {PACED_RATE:,} points/s offered, MQTT then gRPC")
    mqtt_paced = mqtt_end_to_end(platform, rate=PACED_RATE, count=PACED_MESSAGES)
    with as_mqtt_turns():
        grpc_paced = telemetry_bench.end_to_end(
            platform, rate=PACED_RATE, batches=PACED_MESSAGES, tracked=True
        )

    mqtt_flat = [r.run for r in mqtt_runs]
    flat_puback = [ms for r in mqtt_runs for ms in r.puback_ms]
    paced = f"at {PACED_RATE // 1000}k points/s offered"
    table.add(
        "flat out: points acknowledged (MQTT: PUBACKed)",
        statistics.mean(r.acknowledged for r in mqtt_flat),
        statistics.mean(r.acknowledged for r in grpc_runs),
        "points/s",
    )
    table.add(
        "flat out: points queryable",
        statistics.mean(r.queryable for r in mqtt_flat),
        statistics.mean(r.queryable for r in grpc_runs),
        "points/s",
    )
    table.add(
        f"{paced}: points acknowledged (MQTT: PUBACKed)",
        mqtt_paced.run.acknowledged,
        grpc_paced.acknowledged,
        "points/s",
    )
    for label, samples in (("flat out", flat_puback), (paced, mqtt_paced.puback_ms)):
        for q in (50, 99):
            table.add(f"{label}: latency publish -> PUBACK, p{q}", percentile(samples, q), None,
                      "ms")  # fmt: skip
    for label, mqtt_latencies, grpc_latencies in (
        (
            "flat out",
            [ms for r in mqtt_flat for ms in r.latencies_ms],
            [ms for r in grpc_runs for ms in r.latencies_ms],
        ),
        (paced, mqtt_paced.run.latencies_ms, grpc_paced.latencies_ms),
    ):
        for q in (50, 99):
            table.add(
                f"{label}: latency send -> queryable, p{q}",
                percentile(mqtt_latencies, q),
                percentile(grpc_latencies, q),
                "ms",
            )
        table.extra[f"latency samples, {label} (MQTT, gRPC)"] = [
            len(mqtt_latencies),
            len(grpc_latencies),
        ]
    for service in ("gateway", "products", "production"):
        table.add(
            f"flat out: CPU per message of {MESSAGE_POINTS} points, {service}",
            statistics.mean(r.cpu_ms_per_batch[service] for r in mqtt_flat),
            statistics.mean(r.cpu_ms_per_batch[service] for r in grpc_runs),
            "ms",
        )
    table.add(
        "flat out: production had every batch, after the last ack (worst run)",
        max(r.production_lag_s for r in mqtt_flat),
        max(r.production_lag_s for r in grpc_runs),
        "s",
    )
    table.extra["flat-out turns, in order"] = [
        {
            "link": link,
            "acknowledged points/s": round(run.acknowledged),
            "queryable points/s": round(run.queryable),
            "production lag s": round(run.production_lag_s, 1),
            "CPU ms per message": {s: round(ms, 2) for s, ms in run.cpu_ms_per_batch.items()},
        }
        for link, run in zip(TURNS, _in_turns(mqtt_flat, grpc_runs), strict=True)
    ]


def _in_turns(mqtt_runs: list[Run], grpc_runs: list[Run]) -> list[Run]:
    mqtt_left, grpc_left = iter(mqtt_runs), iter(grpc_runs)
    return [next(mqtt_left) if link == "mqtt" else next(grpc_left) for link in TURNS]


# -- 2: connections held --------------------------------------------------------------


def onboard_many(base_url: str, count: int) -> tuple[Tenant, list[str]]:
    """A tenant with ``count`` machines of one model, each with a credential: two
    REST calls a machine (create it, issue its credential), ONBOARDING_THREADS at a
    time, each thread on a kept-alive connection of its own."""
    tenant = sign_up(base_url, f"Bench connections {uuid.uuid4().hex[:6]}")
    model = created(
        tenant.post(
            "/v1/equipment-models",
            {"name": "Connected machine", "signals": [{"name": name} for name in SIGNAL_NAMES]},
        )
    )
    local = threading.local()

    def one(number: int) -> str:
        if not hasattr(local, "http"):
            local.http = httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {tenant.key}"}, timeout=30
            )
        machine = created(
            local.http.post(
                "/v1/equipment",
                json={"equipment_model_id": model, "serial_number": f"C-{number}"},
            )
        )
        issued = local.http.post(f"/v1/equipment/{machine}/credentials", json={})
        assert issued.status_code == 201, issued.text
        return str(issued.json()["secret"])

    say(f"onboarding {count:,} machines through the REST API, {ONBOARDING_THREADS} at a time")
    secrets: list[str] = []
    started = last_report = time.perf_counter()
    with ThreadPoolExecutor(ONBOARDING_THREADS) as pool:
        for done in as_completed([pool.submit(one, n) for n in range(count)]):
            secrets.append(done.result())
            if time.perf_counter() - last_report > 5:
                rate = len(secrets) / (time.perf_counter() - started)
                say(f"  {len(secrets):,} of {count:,} onboarded ({rate:,.0f} machines/s)")
                last_report = time.perf_counter()
    return tenant, secrets


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def connections(platform: Platform, table: Table, *, count: int, hold_s: float) -> None:
    started = time.perf_counter()
    _, secrets = onboard_many(platform.ports.base_url, count)
    onboarding_s = time.perf_counter() - started
    gateway = platform.pids["gateway"]
    rss_before, files_before = rss_mb(gateway), open_files(gateway)
    say(f"gateway before: {rss_before:,.0f} MB resident, {files_before} open files")
    fleet = Fleet()
    fleet.start()
    devices = [
        Device(fleet, f"conn-{n}", secret, count_pings=True) for n, secret in enumerate(secrets)
    ]
    say(f"connecting {len(devices):,} machines, keep-alive {KEEP_ALIVE_S} s")
    opened = time.perf_counter()
    fleet.open(devices, platform.ports.mqtt, keep_alive_s=KEEP_ALIVE_S)
    last_report = time.perf_counter()

    def all_settled() -> bool:
        nonlocal last_report
        if time.perf_counter() - last_report > 5:
            settled = sum(d.settled for d in devices)
            say(
                f"  {settled:,} of {len(devices):,} answered, "
                f"{sum(d.connack == 0 for d in devices):,} connected"
            )
            last_report = time.perf_counter()
        return all(d.settled for d in devices)

    fleet.wait(all_settled, timeout_s=600, what="every CONNACK")
    connect_s = time.perf_counter() - opened
    accepted = [d for d in devices if d.connack == 0]
    refused = [d for d in devices if d.connack != 0]
    say(f"  {len(accepted):,} connected in {connect_s:,.1f} s, {len(refused):,} refused")

    # The hold: everybody pings; a sample publishes a snapshot of its signals.
    sample = accepted[::SAMPLE_EVERY]
    due = {
        id(d): time.monotonic() + SAMPLE_PERIOD_S * n / len(sample) for n, d in enumerate(sample)
    }

    def publish_samples() -> None:
        now = time.monotonic()
        for device in sample:
            if due[id(device)] <= now and device.held:
                snapshot = {
                    "ts": int(time.time() * 1000),
                    "values": dict.fromkeys(SIGNAL_NAMES, 1.0),
                }
                device.publish(json.dumps(snapshot).encode(), SIGNALS)
                due[id(device)] += SAMPLE_PERIOD_S

    cpu_before = platform.cpu_seconds()["gateway"]
    pings_before = sum(d.pings for d in accepted)
    fleet.longest_turn_s = 0.0
    hold_started = time.monotonic()
    fleet.call(lambda: fleet.ticks.append(publish_samples))
    rss_peak = rss_mb(gateway)
    files_peak = open_files(gateway)
    while (held_s := time.monotonic() - hold_started) < hold_s:
        fleet.check()
        time.sleep(1)
        rss_peak = max(rss_peak, rss_mb(gateway))
        files_peak = max(files_peak, open_files(gateway))
        if time.perf_counter() - last_report > 10:
            say(
                f"  holding {sum(d.held for d in accepted):,} for {held_s:,.0f} s: "
                f"{sum(d.pings for d in accepted) - pings_before:,} pings answered, "
                f"{sum(d.acked for d in sample):,} sample messages PUBACKed; gateway "
                f"{rss_mb(gateway):,.0f} MB, {open_files(gateway):,} open files"
            )
            last_report = time.perf_counter()
    fleet.call(lambda: fleet.ticks.remove(publish_samples))
    hold_cpu = platform.cpu_seconds()["gateway"] - cpu_before
    pings = sum(d.pings for d in accepted) - pings_before
    longest_turn_ms = fleet.longest_turn_s * 1000
    fleet.wait(
        lambda: not any(d.in_flight for d in sample if d.held),
        timeout_s=60,
        what="the sample's last PUBACKs",
    )
    held = [d for d in accepted if d.held]
    dropped = [d for d in accepted if not d.held]
    sample_ms = [ms for d in sample for ms in d.ack_ms]
    say(f"closing {len(held):,} connections")
    fleet.close()
    closing = time.perf_counter()
    released = wait_for(
        lambda: open_files(gateway) <= files_before + 10,
        timeout_s=120,
        interval_s=0.2,
        what="the gateway closing the connections",
    )
    closing_s = time.perf_counter() - closing
    reasons: dict[str, int] = {}
    for device in [*refused, *dropped]:
        key = device.failed or f"CONNACK {device.connack}"
        reasons[key] = reasons.get(key, 0) + 1

    table.add("connections: machines onboarded through the REST API", count, None, "machines")
    table.add("connections: onboarding rate (equipment + credential)",
              count / onboarding_s, None, "machines/s")  # fmt: skip
    table.add("connections: accepted (CONNACK success)", len(accepted), None, "connections")
    table.add("connections: refused or failed to open", len(refused), None, "connections")
    table.add("connections: connect rate", len(accepted) / connect_s, None, "connections/s")
    table.add(f"connections: held through {hold_s:g} s", len(held), None, "connections")
    table.add(f"connections: dropped during the {hold_s:g} s", len(dropped), None, "connections")
    table.add(f"connections: keep-alive pings answered during the {hold_s:g} s", pings, None,
              "pings")  # fmt: skip
    table.add(
        f"connections: sample (1 in {SAMPLE_EVERY}) messages PUBACKed",
        sum(d.acked for d in sample),
        None,
        "messages",
    )
    table.add("connections: sample publish -> PUBACK, p50", percentile(sample_ms, 50), None, "ms")
    table.add("connections: sample publish -> PUBACK, p99", percentile(sample_ms, 99), None, "ms")
    table.add("connections: gateway resident memory before", rss_before, None, "MB")
    table.add("connections: gateway resident memory holding them (peak)", rss_peak, None, "MB")
    table.add(
        "connections: gateway memory per connection",
        (rss_peak - rss_before) * 1024 / max(len(accepted), 1),
        None,
        "kB",
    )
    table.add("connections: gateway open files holding them (peak)", files_peak, None, "files")
    table.add("connections: gateway CPU while holding", 100 * hold_cpu / held_s, None,
              "% of a core")  # fmt: skip
    table.add("connections: all closed on the gateway after DISCONNECT", closing_s, None, "s")
    assert released
    table.extra["connections not held, by reason"] = reasons
    table.extra["connections: the client loop's longest turn while holding, ms"] = round(
        longest_turn_ms, 1
    )
    table.extra["connections: onboarding s, connecting s"] = [
        round(onboarding_s, 1),
        round(connect_s, 1),
    ]


# -- report ---------------------------------------------------------------------------


def report(table: Table, duration_s: float, *, connections: int, hold_s: float) -> None:
    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:,.1f}"

    lines = ["| measure | MQTT | gRPC device link | unit |", "|---|---:|---:|---|"]
    lines += [f"| {n} | {cell(m)} | {cell(g)} | {u} |" for n, m, g, u in table.rows]
    text = "\n".join(lines)
    print("\n" + text + "\n", flush=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    notes = (
        f"{MACHINES} machines x {SIGNALS} signals at QoS 1, each message {ENTRIES} entries "
        f'{{"ts", "values"}} {SAMPLE_MS} ms apart ({MESSAGE_POINTS} points: a machine '
        f"sampling at {1000 // SAMPLE_MS} Hz and publishing every "
        f"{ENTRIES * SAMPLE_MS / 1000:g} s), {IN_FLIGHT} in flight per machine; the gRPC "
        f"column sends the same points in batches of {MESSAGE_POINTS} (tests.bench.load). "
        f"Send -> queryable: MQTT from a probe machine's messages of the same size; gRPC from "
        f"telemetry_bench's probe (one point over HTTP every 200 ms while the gRPC load "
        f"runs). Whole run {duration_s / 60:,.1f} min. {table.extra}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mqtt.md").write_text(f"# MQTT benchmark ({stamp})\n\n{text}\n\n{notes}\n")
    (RESULTS / "mqtt.json").write_text(
        json.dumps(
            {
                "when": stamp,
                "duration_s": round(duration_s),
                "rows": table.rows,
                "setup": {
                    "machines": MACHINES,
                    "signals": SIGNALS,
                    "entries_per_message": ENTRIES,
                    "points_per_message": MESSAGE_POINTS,
                    "in_flight": IN_FLIGHT,
                    "messages_per_machine": MESSAGES_PER_MACHINE,
                    "turns": TURNS,
                    "paced_rate": PACED_RATE,
                    "connections": connections,
                    "keep_alive_s": KEEP_ALIVE_S,
                    "hold_s": hold_s,
                },
                **table.extra,
            },
            indent=2,
        )
    )
    say(f"written to {RESULTS / 'mqtt.md'} and mqtt.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--hold-s", type=float, default=HOLD_S)
    args = parser.parse_args()
    started = time.perf_counter()
    table = Table()
    databases = FreshDatabases(POSTGRES_URL)
    try:
        with distributed_platform(databases) as platform:
            ingest(platform, table)
            ingested = time.perf_counter()
            connections(platform, table, count=args.connections, hold_s=args.hold_s)
            table.extra["startup and ingest s, connections s"] = [
                round(ingested - started),
                round(time.perf_counter() - ingested),
            ]
        report(
            table,
            time.perf_counter() - started,
            connections=args.connections,
            hold_s=args.hold_s,
        )
    finally:
        databases.drop_all()


if __name__ == "__main__":
    main()
