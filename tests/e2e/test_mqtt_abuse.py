"""The MQTT endpoint under abuse, on a running platform: raw sockets send garbage,
other protocols, packets out of order, a packet over the size limit; connections go
silent before and after CONNECT; a flood of bad connections arrives. Each is cut off
the way the MQTT specifications say (with an MQTT 5 reason code where the protocol
has one), while a well-behaved machine on the same gateway keeps publishing: every
one of its messages is PUBACKed and stored, and /healthz stays green. A revoked
device credential closes its connection at once and never connects again."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.integration.sdk.telemetry import stored_points
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

TELEMETRY = "v1/devices/me/telemetry"
RPC_REQUESTS = "v1/devices/me/rpc/request/+"
# IMCLOUD_GATEWAY__MAX_REQUEST_BYTES's default: the largest packet's remaining length.
MAX_PACKET_BYTES = 1_048_576
# How long the gateway waits for a first packet (CONNECT).
CONNECT_TIMEOUT_S = 10.0
CLOSED = b""

# -- MQTT written out, so that nothing stops a test from getting it wrong -----------


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def text(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack(">H", len(raw)) + raw


def frame(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect(
    level: int,
    secret: str,
    *,
    keep_alive_s: int = 30,
    name: str = "MQTT",
    client_id: str = "",
    properties: bytes = b"",
) -> bytes:
    """CONNECT with the credential as password, clean session/start; MQTT 5's
    properties (each identifier and value) as given."""
    body = text(name) + bytes([level, 0xC2]) + struct.pack(">H", keep_alive_s)
    body += varint(len(properties)) + properties if level == 5 else b""
    return frame(0x10, body + text(client_id) + text("machine") + text(secret))


def publish(level: int, payload: bytes, *, packet_id: int = 1, topic: str = TELEMETRY) -> bytes:
    """PUBLISH at QoS 1."""
    body = text(topic) + struct.pack(">H", packet_id) + (b"\x00" if level == 5 else b"")
    return frame(0x32, body + payload)


PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"


def split(packet: bytes) -> tuple[int, bytes]:
    """A packet's first byte and its body (what follows the remaining length)."""
    at = 1
    while packet[at] & 0x80:
        at += 1
    return packet[0], packet[at + 1 :]


class Raw:
    """A TCP connection to the MQTT port that sends whatever the test says."""

    def __init__(self, platform: RunningPlatform) -> None:
        self.sock = socket.create_connection(("127.0.0.1", platform.ports.mqtt), timeout=5)
        self.opened = time.monotonic()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next(self, timeout_s: float = 5) -> bytes:
        """The next packet the gateway sends, whole; CLOSED once it closed the
        connection (or reset it)."""
        self.sock.settimeout(timeout_s)
        try:
            packet = self._exactly(1)
            while packet and (len(packet) == 1 or packet[-1] & 0x80):
                byte = self._exactly(1)
                if not byte:
                    return CLOSED
                packet += byte
            if not packet:
                return CLOSED
            size = sum((byte & 0x7F) << (7 * n) for n, byte in enumerate(packet[1:]))
            body = self._exactly(size)
            return packet + body if len(body) == size else CLOSED
        except ConnectionError:
            return CLOSED
        except TimeoutError:
            raise AssertionError(f"the gateway sent nothing and kept the connection for "
                                 f"{timeout_s} s") from None  # fmt: skip

    def _exactly(self, count: int) -> bytes:
        """``count`` bytes, or CLOSED if the connection ends first."""
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                return CLOSED
            data += chunk
        return data

    def closed(self, timeout_s: float = 5) -> float:
        """Asserts the gateway closes the connection, sending nothing more; the
        seconds since it was opened."""
        answer = self.next(timeout_s)
        assert answer == CLOSED, f"the gateway answered {answer!r}"
        return time.monotonic() - self.opened

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(embedded_platform: RunningPlatform) -> Iterator[Callable[[], Raw]]:
    opened: list[Raw] = []

    def open_raw() -> Raw:
        opened.append(Raw(embedded_platform))
        return opened[-1]

    yield open_raw
    for connection in opened:
        connection.close()


def connected(raw: Callable[[], Raw], level: int, secret: str, **options: Any) -> Raw:
    connection = raw()
    connection.send(connect(level, secret, **options))
    first, body = split(connection.next())
    assert first == 0x20, "CONNACK"
    assert body[1] == 0, f"refused: {body!r}"  # 3.1.1 return code, or 5 reason code
    return connection


def disconnect_reason(packet: bytes) -> int:
    first, body = split(packet)
    assert first == 0xE0, f"not a DISCONNECT: {packet!r}"
    return body[0]


# -- the platform, its machines and the one that behaves -----------------------------


@pytest.fixture(scope="module")
def world(embedded_platform: RunningPlatform) -> World:
    return onboard(embedded_platform.base_url, "MQTT abuse", machines=1)


@dataclass
class Machine:
    equipment_id: str
    credential_id: str
    secret: str


def new_machine(world: World, name: str) -> Machine:
    """A machine of its own, so that one test's connections replace nobody's."""
    created = world.tenant.post(
        "/v1/equipment",
        {"equipment_model_id": world.ids["equipment_model_id"], "serial_number": name,
         "name": name},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    return with_credential(world, created.json()["id"])


def with_credential(world: World, equipment_id: str) -> Machine:
    issued = world.tenant.post(f"/v1/equipment/{equipment_id}/credentials", {})
    assert issued.status_code == 201, issued.text
    return Machine(equipment_id, issued.json()["id"], issued.json()["secret"])


def online(world: World, equipment_id: str) -> bool:
    return bool(world.tenant.get(f"/v1/equipment/{equipment_id}/twin").json().get("connected"))


@dataclass
class Paho:
    """A paho-mqtt client (MQTT 5 unless told), with what the gateway said to it."""

    client: mqtt.Client
    connects: list[int] = field(default_factory=list)
    disconnects: list[int] = field(default_factory=list)
    acks: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, platform: RunningPlatform, secret: str, *, as_user_name: bool = False) -> Paho:
        """Connected (or refused): ``connects`` holds the CONNACK's reason code. The
        secret is the password, or (ThingsBoard's access token) the user name."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                             reconnect_on_failure=False)  # fmt: skip
        paho = cls(client)

        def record(into: list[int], reason: Any) -> None:
            with paho.lock:
                into.append(reason.value)

        def acked(mid: int, reason: Any) -> None:
            with paho.lock:
                paho.acks[mid] = reason.value

        client.on_connect = lambda _c, _u, _f, reason, _p: record(paho.connects, reason)
        client.on_disconnect = lambda _c, _u, _f, reason, _p: record(paho.disconnects, reason)
        client.on_publish = lambda _c, _u, mid, reason, _p: acked(mid, reason)
        if as_user_name:
            client.username_pw_set(secret)
        else:
            client.username_pw_set("machine", secret)
        client.connect("127.0.0.1", platform.ports.mqtt, keepalive=30)
        client.loop_start()
        wait_for(lambda: paho.connects, timeout_s=10, what="the CONNACK")
        return paho

    def acked(self, mid: int) -> int | None:
        """The reason code of the message's PUBACK; None until it came."""
        with self.lock:
            return self.acks.get(mid)

    def published(self, payload: dict[str, Any]) -> int:
        """Publishes at QoS 1; the reason code of the PUBACK."""
        mid = self.client.publish(TELEMETRY, json.dumps(payload), qos=1).mid
        wait_for(lambda: self.acked(mid) is not None, timeout_s=10, what="the PUBACK")
        return self.acks[mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Bystander:
    """A well-behaved machine publishing telemetry at QoS 1 every 50 ms, all along,
    each message one point of its own time stamp."""

    def __init__(self, platform: RunningPlatform, world: World) -> None:
        self.platform, self.world = platform, world
        self.machine = new_machine(world, "bystander")
        self.paho = Paho.open(platform, self.machine.secret)
        assert self.paho.connects == [0]
        self.start_ms = int(time.time() * 1000) - 3_600_000
        self.sent: dict[int, int] = {}  # message id: the point's time stamp
        self.checked = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._publish, name="bystander")
        self.thread.start()

    def _publish(self) -> None:
        n = 0
        while not self.stopping.wait(0.05):
            point = {"ts": self.start_ms + n, "values": {"spindle_speed": n}}
            info = self.paho.client.publish(TELEMETRY, json.dumps(point), qos=1)
            with self.paho.lock:
                self.sent[info.mid] = self.start_ms + n
            n += 1

    def unharmed(self) -> None:
        """It went on publishing during the test, each message PUBACKed with success
        and its point stored; it was never disconnected; the gateway is healthy."""

        def sent_so_far() -> dict[int, int]:
            with self.paho.lock:
                return dict(self.sent)

        # A few messages more than at the last look: it publishes after the abuse too.
        sent = wait_for(lambda: (s := sent_so_far()) and len(s) >= self.checked + 3 and s,
                        timeout_s=5, what="the bystander publishing")  # fmt: skip
        self.checked = len(sent)

        def acks() -> dict[int, int]:
            with self.paho.lock:
                return dict(self.paho.acks)

        wait_for(lambda: set(sent) <= set(acks()), timeout_s=15,
                 what=f"the PUBACKs of {len(sent)} messages")  # fmt: skip
        refused = {mid: reason for mid, reason in acks().items() if reason != 0}
        assert not refused, f"PUBACKs with reason codes: {refused}"
        assert (self.paho.connects, self.paho.disconnects) == ([0], [])
        expected = set(sent.values())

        def stored() -> bool:
            points = stored_points(self.world.tenant, self.machine.equipment_id, ["spindle_speed"])
            return expected <= set(points.get("spindle_speed", {}))

        wait_for(stored, timeout_s=30, interval_s=0.5, what=f"{len(expected)} points stored")
        health = httpx.get(f"{self.platform.base_url}/healthz", timeout=5)
        assert health.status_code == 200, health.text

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.paho.close()


@pytest.fixture(scope="module")
def bystander(embedded_platform: RunningPlatform, world: World) -> Iterator[Bystander]:
    machine = Bystander(embedded_platform, world)
    yield machine
    machine.stop()


def client_hello() -> bytes:
    """The first bytes of a TLS client that dials the plain port."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="gateway")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


# -- before CONNECT ------------------------------------------------------------------

GARBAGE = {
    "an HTTP request": b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nUser-Agent: curl/8.5.0\r\n"
    b"Accept: */*\r\n\r\n",
    "a TLS client hello": client_hello(),
    "zero bytes": bytes(64),
    "a remaining length of five bytes": b"\x10\xff\xff\xff\xff\x7f",
    "a CONNECT of 256 MB": b"\x10\xff\xff\xff\x7f",
    "a CONNECT whose protocol name runs past it": b"\x10\x04\x00\x04MQ",
    "a CONNECT of invalid UTF-8": frame(0x10, text(b"MQ\xff\xfe") + b"\x04\x02\x00\x1e"),
    "an AUTH": b"\xf0\x00",
}


def test_garbage_and_other_protocols_are_cut_off_unanswered(
    raw: Callable[[], Raw], bystander: Bystander
) -> None:
    connections = {}
    for what, data in GARBAGE.items():
        connections[what] = raw()
        connections[what].send(data)
    for what, connection in connections.items():
        # At once: no CONNACK, and no waiting out the CONNECT timeout.
        assert connection.closed(timeout_s=3) < 3, what
    bystander.unharmed()


def test_packets_before_connect_end_the_connection_unanswered(
    raw: Callable[[], Raw], bystander: Bystander
) -> None:
    # 3.1.1 [MQTT-3.1.0-1], 5 [MQTT-3.1.0-1]: the first packet from the client is
    # CONNECT; anything else closes the connection.
    point = {"ts": int(time.time() * 1000), "values": {"spindle_speed": 1}}
    before = {
        "PUBLISH": publish(4, json.dumps(point).encode()),
        "SUBSCRIBE": frame(0x82, b"\x00\x01" + text(RPC_REQUESTS) + b"\x01"),
        "PINGREQ": PINGREQ,
        "DISCONNECT": b"\xe0\x00",
    }
    connections = {}
    for what, packet in before.items():
        connections[what] = raw()
        connections[what].send(packet)
    for what, connection in connections.items():
        assert connection.closed(timeout_s=3) < 3, what
    bystander.unharmed()


def what_paho_5_makes_of(connack: bytes) -> int:
    """The reason code a paho-mqtt MQTT 5 client reports for this CONNACK."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                             reconnect_on_failure=False)  # fmt: skip
        reasons: list[int] = []
        client.on_connect = lambda _c, _u, _f, reason, _p: reasons.append(reason.value)
        client.connect("127.0.0.1", listener.getsockname()[1])
        server, _ = listener.accept()
        with server:
            server.sendall(connack)
            for _ in range(40):
                client.loop(timeout=0.05)
                if reasons:
                    break
        client.disconnect()
    assert reasons, f"paho made nothing of {connack!r}"
    return reasons[0]


def test_a_connect_of_another_protocol_level_is_refused(
    raw: Callable[[], Raw], world: World, bystander: Bystander
) -> None:
    machine = new_machine(world, "mqtt-3.1")
    # 3.1.1 [MQTT-3.1.2-2]: return code 0x01 (unacceptable protocol level), and the
    # connection closed. The CONNACK is 3.1.1's, the one every version can read.
    for name, level in (("MQIsdp", 3), ("MQTT", 6), ("MQTT", 0)):
        connection = raw()
        connection.send(connect(level, machine.secret, name=name))
        answer = connection.next()
        assert answer == b"\x20\x02\x00\x01", (name, level, answer)
        connection.closed()
    # An MQTT 5 client takes it for 0x84, unsupported protocol version.
    assert what_paho_5_makes_of(answer) == 0x84
    bystander.unharmed()


def resident_mib(pid: int) -> int:
    """The memory a process holds (its resident set), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_connections_without_a_credential_cannot_make_the_gateway_hold_their_bytes(
    raw: Callable[[], Raw], embedded_platform: RunningPlatform
) -> None:
    # Anyone who reaches the port can open connections; until CONNECT names a
    # credential, none may cost the gateway more than a small CONNECT's worth of
    # memory: read up to the packet limit (1 MiB) and held for the CONNECT timeout,
    # some 550 such connections would exceed the chart's 768 MiB limit.
    pid = embedded_platform.processes["all"].process.pid
    before = resident_mib(pid)
    connections = [raw() for _ in range(100)]
    for connection in connections:
        with contextlib.suppress(ConnectionError):  # refused at once: what should happen
            connection.send(b"\x10" + varint(MAX_PACKET_BYTES) + bytes(MAX_PACKET_BYTES - 1))
    grown = 0
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        grown = max(grown, resident_mib(pid) - before)
        time.sleep(0.1)
    assert grown < 30, f"{grown} MiB held for 100 connections that named no credential"


# -- once connected ------------------------------------------------------------------


def test_a_second_connect_is_a_protocol_error(
    raw: Callable[[], Raw], world: World, bystander: Bystander
) -> None:
    # 3.1.1 [MQTT-3.1.0-2], 5 [MQTT-3.1.0-2]: a second CONNECT is a protocol
    # violation; MQTT 5 says so with DISCONNECT 0x82 before closing.
    machine = new_machine(world, "connects-twice")
    for level in (5, 4):
        connection = connected(raw, level, machine.secret)
        connection.send(connect(level, machine.secret))
        if level == 5:
            assert disconnect_reason(connection.next()) == 0x82
        connection.closed()
    bystander.unharmed()


def test_a_packet_over_the_size_limit_ends_the_connection_and_one_at_the_limit_is_taken(
    raw: Callable[[], Raw], world: World, bystander: Bystander
) -> None:
    machine = new_machine(world, "too-large")
    for level in (5, 4):
        connection = connected(raw, level, machine.secret)
        # The PUBLISH declares one byte too many; the gateway does not wait for it.
        head = text(TELEMETRY) + b"\x00\x01" + (b"\x00" if level == 5 else b"")
        size = MAX_PACKET_BYTES + 1
        with contextlib.suppress(ConnectionError):  # the gateway may close first
            connection.send(b"\x32" + varint(size) + head + b" " * 4096)
        if level == 5:
            # 5 section 3.14.2.1: 0x95, packet too large; then the connection closes.
            assert disconnect_reason(connection.next()) == 0x95
        connection.closed()

    # The machine connects again, and a packet of exactly the limit is accepted.
    stamp = int(time.time() * 1000)
    for level, signal in ((5, "spindle_speed"), (4, "spindle_temperature")):
        connection = connected(raw, level, machine.secret)
        head = text(TELEMETRY) + b"\x00\x07" + (b"\x00" if level == 5 else b"")
        document = json.dumps({"ts": stamp, "values": {signal: 42}}).encode()
        document += b" " * (MAX_PACKET_BYTES - len(head) - len(document))
        message = b"\x32" + varint(MAX_PACKET_BYTES) + head + document
        assert len(message) == 1 + 3 + MAX_PACKET_BYTES
        connection.send(message)
        assert connection.next(timeout_s=15) == b"\x40\x02\x00\x07"  # PUBACK, success
    wait_for(
        lambda: stored_points(world.tenant, machine.equipment_id,
                              ["spindle_speed", "spindle_temperature"])
        == {"spindle_speed": {stamp: 42.0}, "spindle_temperature": {stamp: 42.0}},
        timeout_s=30,
        what="the two points of the largest messages",
    )  # fmt: skip
    bystander.unharmed()


def test_connections_that_never_send_a_whole_connect_are_closed_after_10_s(
    raw: Callable[[], Raw], world: World, bystander: Bystander
) -> None:
    machine = new_machine(world, "slow")
    silent = raw()
    # Half a CONNECT, the rest never comes (a slow-loris).
    half = raw()
    half.send(connect(5, machine.secret)[:12])
    # An SSH client: its banner reads as a PUBREC of 83 bytes, 62 short.
    ssh = raw()
    ssh.send(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")
    for what, connection in (("silent", silent), ("half", half), ("ssh", ssh)):
        waited = connection.closed(timeout_s=CONNECT_TIMEOUT_S + 5)
        assert CONNECT_TIMEOUT_S - 0.5 <= waited <= CONNECT_TIMEOUT_S + 3, (what, waited)
    bystander.unharmed()


def test_a_silent_machine_is_disconnected_after_one_and_a_half_keep_alives(
    raw: Callable[[], Raw], world: World, bystander: Bystander
) -> None:
    # 3.1.1 section 3.1.2.10, 5 section 3.1.2.10: no packet within 1.5 times the
    # keep alive, and the server closes the connection; MQTT 5 hears 0x8D first.
    silent_5, silent_3, pinging = (new_machine(world, f"keep-alive-{n}") for n in range(3))
    quiet_5 = connected(raw, 5, silent_5.secret, keep_alive_s=3)
    since = time.monotonic()
    quiet_3 = connected(raw, 4, silent_3.secret, keep_alive_s=3)
    # One that pings every 2 s, within its keep alive of 3 s, stays.
    awake = connected(raw, 5, pinging.secret, keep_alive_s=3)
    answers: list[bytes] = []

    def ping() -> None:
        for _ in range(4):
            time.sleep(2)
            awake.send(PINGREQ)
            answers.append(awake.next())

    pinger = threading.Thread(target=ping)
    pinger.start()
    wait_for(lambda: online(world, silent_5.equipment_id), timeout_s=3, what="online")
    try:
        assert disconnect_reason(quiet_5.next(timeout_s=6)) == 0x8D
        quiet_5.closed()
        quiet_3.closed(timeout_s=2)
        assert 4.3 <= time.monotonic() - since <= 6, "not 1.5 keep alives"
    finally:
        pinger.join()
    assert answers == [PINGRESP] * 4  # 8 s: more than 1.5 keep alives
    awake.send(publish(5, b'{"spindle_speed": 3}', packet_id=9))
    assert awake.next() == b"\x40\x02\x00\x09"
    # The machine that went silent shows offline.
    wait_for(lambda: not online(world, silent_5.equipment_id), timeout_s=10, what="offline")
    assert online(world, pinging.equipment_id)
    bystander.unharmed()


def test_a_flood_of_bad_connections_leaves_the_gateway_serving(
    embedded_platform: RunningPlatform, world: World, bystander: Bystander
) -> None:
    machine = new_machine(world, "after-the-flood")

    def attack(number: int) -> bytes:
        connection = Raw(embedded_platform)
        try:
            if number % 3 == 0:
                connection.send(connect(5, f"imd_guess{number}.secret"))
            elif number % 3 == 1:
                connection.send(connect(4, "imd_nobody.secret"))
            else:
                connection.send(bytes([number % 256]) * 300)
            answer = connection.next(timeout_s=20)
            if answer:
                assert connection.next(timeout_s=20) == CLOSED
            return answer
        finally:
            connection.close()

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(attack, range(300)))
    # Wrong secrets: 0x86 (MQTT 5) and 0x04 (3.1.1), bad user name or password.
    assert {answers[n] for n in range(0, 300, 3)} == {b"\x20\x03\x00\x86\x00"}
    assert {answers[n] for n in range(1, 300, 3)} == {b"\x20\x02\x00\x04"}
    assert {answers[n] for n in range(2, 300, 3)} == {CLOSED}
    # A machine connecting now is served at once.
    late = Paho.open(embedded_platform, machine.secret)
    try:
        assert late.connects == [0]
        assert late.published({"spindle_speed": 5}) == 0
    finally:
        late.close()
    bystander.unharmed()


def test_an_mqtt_5_machine_gets_no_packet_over_the_size_it_announced(
    raw: Callable[[], Raw], world: World
) -> None:
    # 5 [MQTT-3.1.2-24], [MQTT-3.1.2-25]: the server never sends a packet over the
    # client's Maximum Packet Size (0x27); a reason string that would not fit is
    # left out. A small device's firmware takes a larger packet as a protocol error.
    machine = new_machine(world, "small-buffers")
    limit = 64
    connection = connected(raw, 5, machine.secret, properties=b"\x27" + struct.pack(">I", limit))
    connection.send(publish(5, b"{not json", packet_id=3))
    puback = connection.next()
    first, body = split(puback)
    assert (first, body[:3]) == (0x40, b"\x00\x03\x99")  # refused: payload format invalid
    assert len(puback) <= limit, f"a PUBACK of {len(puback)} bytes"


# -- revocation ----------------------------------------------------------------------


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def test_revoking_a_credential_closes_its_connection_and_the_secret_connects_no_more(
    platform: RunningPlatform,
) -> None:
    world = onboard(platform.base_url, "MQTT revoked", machines=1)
    machine = world.ids["equipment_id"]
    revoked = Machine(machine, world.ids["credential_id"], world.device_secrets[machine])
    other = with_credential(world, machine)

    def revoke(credential: Machine) -> None:
        answer = world.tenant.post(
            f"/v1/equipment/{machine}/credentials/{credential.credential_id}:revoke", {}
        )
        assert answer.status_code == 200, answer.text

    paho = Paho.open(platform, revoked.secret)
    other_link = Raw(platform)
    try:
        assert paho.connects == [0]
        assert paho.published({"spindle_speed": 1}) == 0
        other_link.send(connect(4, other.secret))
        assert other_link.next() == b"\x20\x02\x00\x00"
        revoke(revoked)
        # At once, not at the next periodic check of the credential: MQTT 5 hears
        # 0x87, not authorized.
        wait_for(lambda: paho.disconnects, timeout_s=3, what="the DISCONNECT")
        assert paho.disconnects == [0x87]
        # The machine's other credential still connects.
        other_link.send(PINGREQ)
        assert other_link.next() == PINGRESP
        revoke(other)
        other_link.closed(timeout_s=3)  # 3.1.1: no DISCONNECT from servers
        wait_for(lambda: not online(world, machine), timeout_s=10, what="the machine offline")
    finally:
        paho.close()
        other_link.close()
    # The secrets no longer connect: 0x86 and 0x04, bad user name or password.
    for level, secret, refusal in ((5, revoked.secret, b"\x20\x03\x00\x86\x00"),
                                   (4, other.secret, b"\x20\x02\x00\x04")):  # fmt: skip
        again = Raw(platform)
        try:
            again.send(connect(level, secret))
            assert again.next() == refusal
            again.closed()
        finally:
            again.close()
    # Nor does ThingsBoard's way, the secret as the user name.
    token = Paho.open(platform, revoked.secret, as_user_name=True)
    token.close()
    assert token.connects == [0x86]


def test_a_machine_with_two_connections_stays_online_while_one_remains(
    raw: Callable[[], Raw], world: World
) -> None:
    # A machine may hold two credentials (a PLC and its edge agent, or an old and a
    # new credential while it is rolled out): it is online while either connects.
    machine = new_machine(world, "two-links")
    first = connected(raw, 5, machine.secret)
    second = connected(raw, 5, with_credential(world, machine.equipment_id).secret)
    wait_for(lambda: online(world, machine.equipment_id), timeout_s=10, what="online")
    first.send(b"\xe0\x00")
    first.closed()
    # Every chance for the offline state to show (wrongly): 3 s.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert online(world, machine.equipment_id), "offline with a connection open"
        time.sleep(0.1)
    second.send(PINGREQ)
    assert second.next() == PINGRESP
