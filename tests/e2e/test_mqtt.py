"""The gateway's MQTT endpoint with clients nobody here wrote: Debian's mosquitto_pub
and mosquitto_sub, and paho-mqtt. ThingsBoard's device topics carry telemetry up and
commands down; refusals come with MQTT 5 reason codes; a machine reaches nothing of
another machine's; QoS 1 through a gateway killed mid-stream stores every point
once."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.conftest import REPO
from tests.e2e.test_gateway_replicas import replica
from tests.integration.sdk.telemetry import count, stored_points
from tests.support.platform import Ports, RunningPlatform, embedded
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

TELEMETRY = "v1/devices/me/telemetry"
RPC_REQUESTS = "v1/devices/me/rpc/request/+"
SIGNALS = ("spindle_speed", "spindle_temperature")


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def mosquitto(tool: str, platform: RunningPlatform, secret: str, options: str) -> list[str]:
    """The command line of mosquitto_pub or mosquitto_sub, connecting as the machine;
    ``options`` are the tool's, separated by spaces."""
    return [tool, "-h", "127.0.0.1", "-p", str(platform.ports.mqtt), "-u", secret, *options.split()]


def command_state(world: World, command_id: str) -> str:
    return str(world.tenant.get(f"/v1/commands/{command_id}").json()["state"])


def test_mosquitto_clients_send_telemetry_and_carry_out_a_command(
    platform: RunningPlatform,
) -> None:
    world = onboard(platform.base_url, "MQTT mill", machines=1)
    machine = world.ids["equipment_id"]
    secret = world.device_secrets[machine]
    now = int(time.time() * 1000)
    # MQTT 3.1.1 (mosquitto's default) with a timestamp; MQTT 5 without one.
    stamped = {"ts": now - 1000, "values": {"spindle_speed": 8000, "door_open": True}}
    for message, version in ((stamped, "mqttv311"), ({"spindle_temperature": 41.5}, "mqttv5")):
        subprocess.run(
            [
                *mosquitto("mosquitto_pub", platform, secret, f"-V {version} -q 1 -t {TELEMETRY}"),
                "-m",
                json.dumps(message),
            ],
            check=True,
            timeout=30,
        )
    signals = ("spindle_speed", "spindle_temperature", "door_open")
    points = wait_for(
        lambda: (p := stored_points(world.tenant, machine, signals)) and count(p) == 3 and p,
        timeout_s=30,
        what="the three points",
    )
    assert points["spindle_speed"] == {now - 1000: 8000.0}
    assert points["door_open"] == {now - 1000: 1.0}
    assert list(points["spindle_temperature"].values()) == [41.5]

    # mosquitto_sub waits for one command and prints its topic and payload.
    listener = subprocess.Popen(
        mosquitto("mosquitto_sub", platform, secret, f"-q 1 -t {RPC_REQUESTS} -C 1 -v -W 60"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # The subscription is on once the machine shows as connected.
        wait_for(
            lambda: world.tenant.get(f"/v1/equipment/{machine}/twin").json().get("connected"),
            timeout_s=30,
            what="the machine online",
        )
        sent = world.tenant.post(
            f"/v1/equipment/{machine}/commands", {"name": "set_speed", "parameters": {"rpm": 8000}}
        )
        assert sent.status_code == 202, sent.text
        command_id = sent.json()["id"]
        output, _ = listener.communicate(timeout=60)
    finally:
        listener.kill()
    topic, _, payload = output.strip().partition(" ")
    assert topic == f"v1/devices/me/rpc/request/{command_id}"
    assert json.loads(payload) == {"method": "set_speed", "params": {"rpm": 8000}}
    # The PUBACK of the request was the machine's receipt.
    wait_for(lambda: command_state(world, command_id) == "delivered", timeout_s=30)
    answer_topic = f"v1/devices/me/rpc/response/{command_id}"
    subprocess.run(
        [
            *mosquitto("mosquitto_pub", platform, secret, f"-q 1 -t {answer_topic}"),
            "-m",
            '{"rpm": 8000}',
        ],
        check=True,
        timeout=30,
    )
    wait_for(lambda: command_state(world, command_id) == "succeeded", timeout_s=30)
    assert world.tenant.get(f"/v1/commands/{command_id}").json()["detail"] == '{"rpm": 8000}'


@dataclass
class Paho:
    """A paho-mqtt client on the endpoint, remembering what the server answered."""

    client: mqtt.Client
    connect_reason: list[ReasonCode] = field(default_factory=list)
    acks: dict[int, tuple[ReasonCode, str]] = field(default_factory=dict)
    granted: dict[int, list[ReasonCode]] = field(default_factory=dict)
    received: list[mqtt.MQTTMessage] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, what: str, done: Any, timeout_s: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(done, timeout_s), what

    def publish(self, topic: str, payload: str, qos: int = 1) -> tuple[ReasonCode, str]:
        mid = self.client.publish(topic, payload, qos=qos).mid
        self.wait(f"the PUBACK of {topic}", lambda: mid in self.acks)
        return self.acks[mid]

    def subscribe(self, topic_filter: str) -> list[ReasonCode]:
        _, mid = self.client.subscribe(topic_filter, qos=1)
        assert mid is not None
        self.wait(f"the SUBACK of {topic_filter}", lambda: mid in self.granted)
        return self.granted[mid]


@pytest.fixture
def paho_client() -> Iterator[Any]:
    opened: list[mqtt.Client] = []

    def connect(port: int, secret: str, protocol: int = mqtt.MQTTv5) -> Paho:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
        paho = Paho(client)

        def notify(record: Any) -> None:
            with paho.changed:
                record()
                paho.changed.notify_all()

        client.on_connect = lambda _c, _u, _f, reason, _p: notify(
            lambda: paho.connect_reason.append(reason)
        )
        client.on_publish = lambda _c, _u, mid, reason, properties: notify(
            lambda: paho.acks.__setitem__(mid, (reason, _reason_string(properties)))
        )
        client.on_subscribe = lambda _c, _u, mid, granted, _p: notify(
            lambda: paho.granted.__setitem__(mid, granted)
        )
        client.on_message = lambda _c, _u, message: notify(lambda: paho.received.append(message))
        client.username_pw_set("machine", secret)
        client.connect("127.0.0.1", port, keepalive=30)
        client.loop_start()
        opened.append(client)
        paho.wait("the CONNACK", lambda: paho.connect_reason)
        return paho

    yield connect
    for client in opened:
        client.disconnect()
        client.loop_stop()


def _reason_string(properties: Properties | None) -> str:
    return str(getattr(properties, "ReasonString", "")) if properties else ""


def test_refused_messages_are_answered_with_a_reason_and_accepted_points_kept(
    platform: RunningPlatform, paho_client: Any
) -> None:
    world = onboard(platform.base_url, "MQTT refusals", machines=1)
    machine = world.ids["equipment_id"]
    device = paho_client(platform.ports.mqtt, world.device_secrets[machine])
    assert device.connect_reason == [ReasonCode(2, "Success")]

    reason, detail = device.publish(TELEMETRY, "{not json")
    assert reason.value == 0x99, detail  # payload format invalid
    assert "JSON" in detail
    reason, detail = device.publish(TELEMETRY, json.dumps({"laser_power": 3}))
    assert reason.value == 0x99, detail
    assert "laser_power: unknown_signal" in detail
    now = int(time.time() * 1000)
    mixed = {"ts": now, "values": {"spindle_speed": 900, "spindle_temperature": "hot"}}
    reason, detail = device.publish(TELEMETRY, json.dumps(mixed))
    assert reason.value == 0, detail  # the valid point is taken
    assert "spindle_temperature: wrong_type" in detail
    reason, detail = device.publish("v1/devices/me/attributes/secret", "{}")
    assert reason.value == 0x87, detail  # not authorized
    # What was accepted is stored, and only that.
    wait_for(
        lambda: stored_points(world.tenant, machine, SIGNALS) == {"spindle_speed": {now: 900.0}},
        timeout_s=30,
        what="the one accepted point",
    )

    # A wrong secret never connects.
    stranger = paho_client(platform.ports.mqtt, "imd_wrong.secret")
    assert stranger.connect_reason[0].value == 0x86  # bad user name or password


def test_a_machine_reaches_none_of_another_machines_topics(
    platform: RunningPlatform, paho_client: Any
) -> None:
    world = onboard(platform.base_url, "MQTT neighbours", machines=2)
    mine, theirs = world.ids["equipment_id"], world.ids["equipment_id_1"]
    other_secret = world.tenant.post(f"/v1/equipment/{theirs}/credentials", {}).json()["secret"]
    me = paho_client(platform.ports.mqtt, world.device_secrets[mine], protocol=mqtt.MQTTv311)
    neighbour = paho_client(platform.ports.mqtt, other_secret)
    for topic_filter in ("#", f"v1/devices/{theirs}/rpc/request/+", "v1/devices/+/telemetry"):
        assert me.subscribe(topic_filter)[0].value == 0x80, topic_filter  # failure (3.1.1)
        assert neighbour.subscribe(topic_filter)[0].value == 0x87, topic_filter
    for paho in (me, neighbour):
        assert paho.subscribe(RPC_REQUESTS)[0].value == 1
    me.publish(f"v1/devices/{theirs}/telemetry", json.dumps({"spindle_speed": 1}))
    sent = world.tenant.post(f"/v1/equipment/{theirs}/commands", {"name": "stop"}).json()
    neighbour.wait("the neighbour's command", lambda: neighbour.received)
    assert neighbour.received[0].topic == f"v1/devices/me/rpc/request/{sent['id']}"
    time.sleep(1)  # every chance for the command to (wrongly) reach the other machine
    assert me.received == []
    assert stored_points(world.tenant, theirs, SIGNALS) == {}


def test_qos_1_through_a_gateway_killed_mid_stream_stores_every_point_once(
    distributed_platform: RunningPlatform,
) -> None:
    world = onboard(distributed_platform.base_url, "MQTT crash", machines=1)
    machine = world.ids["equipment_id"]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="crash-mill", clean_session=False)
    client.username_pw_set("machine", world.device_secrets[machine])
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    acked: set[int] = set()
    connects: list[ReasonCode] = []
    client.on_publish = lambda _c, _u, mid, _r, _p: acked.add(mid)
    client.on_connect = lambda _c, _u, _f, reason, _p: connects.append(reason)
    client.connect("127.0.0.1", distributed_platform.ports.mqtt, keepalive=10)
    client.loop_start()
    start = int(time.time() * 1000) - 60_000
    messages = 600

    mids: list[int] = []

    def send() -> None:
        for n in range(messages):
            payload = {
                "ts": start + 10 * n,
                "values": {"spindle_speed": n, "spindle_temperature": 20},
            }
            mids.append(client.publish(TELEMETRY, json.dumps(payload), qos=1).mid)
            time.sleep(0.002)

    # The machine keeps sending while the gateway dies: messages are in flight,
    # others wait in paho's queue until it has reconnected.
    sender = threading.Thread(target=send)
    try:
        sender.start()
        wait_for(lambda: len(acked) >= messages // 3, timeout_s=30, what="the first PUBACKs")
        distributed_platform.kill_and_restart("gateway")
        sender.join(timeout=60)
        wait_for(lambda: len(mids) == messages and acked.issuperset(mids), timeout_s=120,
                 what="every PUBACK")  # fmt: skip
    finally:
        client.disconnect()
        client.loop_stop()
    assert len(connects) >= 2, "the client never had to reconnect"
    expected = {start + 10 * n: float(n) for n in range(messages)}

    def stored_speeds() -> dict[int, float]:
        return stored_points(world.tenant, machine, SIGNALS).get("spindle_speed", {})

    wait_for(lambda: len(stored_speeds()) >= messages, timeout_s=60, what="every point")
    time.sleep(2)  # every chance for a redelivered message to be (wrongly) stored again
    points = stored_points(world.tenant, machine, SIGNALS)
    assert points["spindle_speed"] == expected
    assert count(points) == 2 * messages


def test_the_desired_state_goes_down_as_shared_attributes_and_its_report_comes_up(
    platform: RunningPlatform, paho_client: Any
) -> None:
    world = onboard(platform.base_url, "MQTT desired", machines=1)
    machine = world.ids["equipment_id"]
    twin = f"/v1/equipment/{machine}/twin"
    # Set while the machine is away: it waits for the machine's subscription.
    changed = world.tenant.http.patch(twin, json={"desired": {"feed_override": 90}})
    assert changed.status_code == 200, changed.text
    device = paho_client(platform.ports.mqtt, world.device_secrets[machine])
    assert device.subscribe("v1/devices/me/attributes")[0].value == 1

    def versions() -> dict[int, dict[str, Any]]:
        # A version can come twice (on connect and from the change), as on every link.
        received = [json.loads(m.payload) for m in device.received]
        return {attributes["desired_version"]: attributes for attributes in received}

    device.wait("the desired state", lambda: 1 in versions())
    assert versions()[1] == {"feed_override": 90, "desired_version": 1}
    assert device.publish("v1/devices/me/attributes", json.dumps({"applied_version": 1}))[0] == 0
    wait_for(
        lambda: world.tenant.get(twin).json()["applied_version"] == 1,
        timeout_s=30,
        what="version 1 applied",
    )
    # A change while it is connected goes down at once.
    second = world.tenant.http.patch(twin, json={"desired": {"mode": "eco"}, "version": 1})
    assert second.status_code == 200, second.text
    device.wait("the second desired state", lambda: 2 in versions())
    assert versions() == {
        1: {"feed_override": 90, "desired_version": 1},
        2: {"feed_override": 90, "mode": "eco", "desired_version": 2},
    }
    # Client attributes other than the report are not kept, and the machine hears so.
    reason, detail = device.publish("v1/devices/me/attributes", json.dumps({"firmware": "1.2"}))
    assert reason.value == 0x83, detail
    assert "applied_version" in detail


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imcloud gateway")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "gateway.crt", directory / "gateway.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_mqtt_over_tls_uses_the_certificate_from_the_settings(tmp_path: Path) -> None:
    cert_file, key_file = self_signed_certificate(tmp_path)
    tls_port = free_port()
    settings = {
        "IMCLOUD_GATEWAY__MQTT_TLS_CERT_FILE": str(cert_file),
        "IMCLOUD_GATEWAY__MQTT_TLS_KEY_FILE": str(key_file),
        "IMCLOUD_GATEWAY__MQTT_TLS_PORT": str(tls_port),
    }
    (tmp_path / "data").mkdir()
    with embedded(tmp_path / "data", **settings) as platform:
        world = onboard(platform.base_url, "MQTT over TLS", machines=1)
        machine = world.ids["equipment_id"]
        secret = world.device_secrets[machine]
        stamp = int(time.time() * 1000)
        message = json.dumps({"ts": stamp, "values": {"spindle_speed": 4200}})
        tls = f"-p {tls_port} --cafile {cert_file} -q 1 -t {TELEMETRY}"
        published = subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-u", secret, *tls.split(), "-m", message],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert published.returncode == 0, published.stderr
        wait_for(
            lambda: (
                stored_points(world.tenant, machine, SIGNALS) == {"spindle_speed": {stamp: 4200.0}}
            ),
            timeout_s=30,
            what="the point sent over TLS",
        )
        # A client that does not trust the certificate does not connect.
        untrusted = subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-u", secret, "-p", str(tls_port),
             "--capath", str(tmp_path / "data"), "-t", TELEMETRY, "-m", message],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )  # fmt: skip
        assert untrusted.returncode != 0


def test_the_readme_s_mosquitto_lines_send_a_point_and_show_a_command(
    embedded_platform: RunningPlatform,
) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### MQTT: ThingsBoard's device API") :]
    [block] = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)[:1]
    publish, subscribe = (
        line.replace("1883", str(embedded_platform.ports.mqtt))
        for line in block.splitlines()
        if line.startswith(("mosquitto_pub", "mosquitto_sub"))
    )
    world = onboard(embedded_platform.base_url, "MQTT README", machines=1)
    machine = world.ids["equipment_id"]
    env = {**os.environ, "SECRET": world.device_secrets[machine]}
    subprocess.run(["bash", "-c", publish], env=env, check=True, timeout=30)
    wait_for(
        lambda: (
            list(stored_points(world.tenant, machine, SIGNALS).get("spindle_speed", {}).values())
            == [12000.0]
        ),
        timeout_s=30,
        what="the README's point",
    )
    # The subscriber as written, ended after its first message.
    listener = subprocess.Popen(
        ["bash", "-c", subscribe.split("#")[0] + " -C 1 -W 60"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: world.tenant.get(f"/v1/equipment/{machine}/twin").json()["connected"],
            timeout_s=30,
        )
        sent = world.tenant.post(f"/v1/equipment/{machine}/commands", {"name": "stop"}).json()
        output, _ = listener.communicate(timeout=60)
    finally:
        listener.kill()
    assert output.startswith(f"v1/devices/me/rpc/request/{sent['id']} ")


def test_a_command_sent_through_one_replica_reaches_a_machine_on_another(
    distributed_platform: RunningPlatform, paho_client: Any, tmp_path: Path
) -> None:
    world = onboard(distributed_platform.base_url, "MQTT replicas", machines=1)
    machine = world.ids["equipment_id"]
    ports = Ports()
    with replica(distributed_platform, ports, tmp_path / "gateway-2.log"):
        device = paho_client(ports.mqtt, world.device_secrets[machine])
        assert device.subscribe(RPC_REQUESTS)[0].value == 1
        sent = world.tenant.post(f"/v1/equipment/{machine}/commands", {"name": "stop"}).json()
        device.wait("the command from the other replica", lambda: device.received)
        assert device.received[0].topic == f"v1/devices/me/rpc/request/{sent['id']}"
        wait_for(lambda: command_state(world, sent["id"]) == "delivered", timeout_s=30)
