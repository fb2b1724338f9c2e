"""Sparkplug B on the gateway's MQTT endpoint, with pysparkplug's edge node (a
maintained library nobody here wrote): births map metrics to the machine's signals,
data follow, commands go down as DCMD, deaths mark the machine disconnected; a
broken sequence asks for a rebirth, and one credential never speaks for two machines."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pysparkplug as spb
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.integration.sdk.telemetry import stored_points
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

GROUP, EDGE, DEVICE = "plant-1", "cell-7", "mill"
REPOSITORY = Path(__file__).parents[2]
# Where infra/test-tools.sh installs the edge node (its state directory, as infra's).
STATE_DIR = Path(os.environ.get("IMCLOUD_STATE_DIR", REPOSITORY / ".infra"))
EDGE_PYTHON = STATE_DIR / "sparkplug-edge" / "bin" / "python"
EDGE_SCRIPT = Path(__file__).with_name("sparkplug_edge.py")
SIGNALS = ("spindle_speed", "spindle_temperature")


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def metric(
    name: str, value: Any, stamp: int, datatype: spb.DataType = spb.DataType.DOUBLE
) -> spb.Metric:
    return spb.Metric(timestamp=stamp, name=name, datatype=datatype, value=value)


def connected(world: World) -> bool:
    return bool(
        world.tenant.get(f"/v1/equipment/{world.ids['equipment_id']}/twin").json()["connected"]
    )


class EdgeProcess:
    """sparkplug_edge.py, pysparkplug's edge node in the environment of its own that
    infra/test-tools.sh makes; what it prints (the commands it got) is collected."""

    def __init__(self, platform: RunningPlatform, secret: str, birth: dict[str, Any]) -> None:
        self.printed: list[dict[str, Any]] = []
        self._process = subprocess.Popen(
            [str(EDGE_PYTHON), str(EDGE_SCRIPT), str(platform.ports.mqtt), GROUP, EDGE, DEVICE,
             json.dumps(birth)],
            env={**os.environ, "IMCLOUD_DEVICE_CREDENTIAL": secret},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.printed.append(json.loads(line))

    def tell(self, **instruction: Any) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(instruction) + "\n")
        self._process.stdin.flush()

    def commands(self) -> list[dict[str, Any]]:
        return [line for line in self.printed if "topic" in line]

    def close(self) -> None:
        if self._process.poll() is None:
            self.tell(quit=True)
        assert self._process.wait(timeout=30) == 0


def test_an_edge_node_s_device_streams_into_its_machine_and_carries_out_commands(
    platform: RunningPlatform,
) -> None:
    world = onboard(platform.base_url, "Sparkplug cell", machines=1)
    machine = world.ids["equipment_id"]
    born = int(time.time() * 1000) - 5000
    birth = {
        "spindle_speed": [1000.0, born],
        "spindle_temperature": [35.0, born],
        "program": ["O1234 HOUSING", born],
    }
    edge = EdgeProcess(platform, world.device_secrets[machine], birth)
    try:
        # The birth's values are the machine's first points; the string is no signal.
        wait_for(
            lambda: (
                stored_points(world.tenant, machine, SIGNALS)
                == {"spindle_speed": {born: 1000.0}, "spindle_temperature": {born: 35.0}}
            ),
            timeout_s=30,
            what="the DBIRTH's points",
        )
        wait_for(lambda: connected(world), timeout_s=30, what="the machine online")
        for step in range(1, 6):
            edge.tell(update={"spindle_speed": [1000.0 + step, born + step]})
        wait_for(
            lambda: len(stored_points(world.tenant, machine, SIGNALS)["spindle_speed"]) == 6,
            timeout_s=30,
            what="the DDATA points",
        )
        sent = world.tenant.post(
            f"/v1/equipment/{machine}/commands", {"name": "set_speed", "parameters": {"rpm": 8000}}
        ).json()
        wait_for(edge.commands, timeout_s=30, what="the DCMD")
        command = edge.commands()[0]
        assert command["topic"] == f"spBv1.0/{GROUP}/DCMD/{EDGE}/{DEVICE}"
        assert json.loads(command["metrics"]["set_speed"]) == {"rpm": 8000}
        assert command["metrics"]["imcloud/command_id"] == sent["id"]
        wait_for(
            lambda: world.tenant.get(f"/v1/commands/{sent['id']}").json()["state"] == "delivered",
            timeout_s=30,
            what="the command delivered",
        )
        edge.tell(deregister=True)  # DDEATH
        wait_for(lambda: not connected(world), timeout_s=30, what="the machine offline")
    finally:
        edge.close()


class RawEdge:
    """A paho client (MQTT 5) speaking Sparkplug with payloads pysparkplug encodes,
    to break the rules on purpose; it records the PUBACKs and the NCMDs it gets."""

    def __init__(self, port: int, secret: str) -> None:
        self.acks: dict[int, int] = {}
        self.commands: list[spb.NCmd] = []
        self._changed = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set("machine", secret)
        self.client.on_publish = lambda _c, _u, mid, reason, _p: self._note(
            lambda: self.acks.__setitem__(mid, reason.value)
        )
        self.client.on_message = lambda _c, _u, message: self._note(
            lambda: self.commands.append(spb.NCmd.decode(message.payload))
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(f"spBv1.0/{GROUP}/NCMD/{EDGE}", qos=1)

    def _note(self, change: Any) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    def send(self, kind: str, payload: bytes, device: str | None = None) -> int:
        topic = f"spBv1.0/{GROUP}/{kind}/{EDGE}" + (f"/{device}" if device else "")
        mid = self.client.publish(topic, payload, qos=1).mid
        with self._changed:
            assert self._changed.wait_for(lambda: mid in self.acks, 30), f"no PUBACK for {topic}"
        return self.acks[mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_broken_sequence_asks_for_a_rebirth_and_a_second_device_is_refused(
    embedded_platform: RunningPlatform,
) -> None:
    world = onboard(embedded_platform.base_url, "Sparkplug rules", machines=1)
    machine = world.ids["equipment_id"]
    edge = RawEdge(embedded_platform.ports.mqtt, world.device_secrets[machine])
    now = int(time.time() * 1000)
    try:
        birth = spb.NBirth(
            timestamp=now,
            seq=0,
            metrics=(
                metric("bdSeq", 3, now, spb.DataType.INT64),
                metric("spindle_speed", 500.0, now),
            ),
        )
        assert edge.send("NBIRTH", birth.encode()) == 0
        data = spb.NData(timestamp=now, seq=1, metrics=(metric("spindle_speed", 501.0, now + 1),))
        assert edge.send("NDATA", data.encode(include_dtypes=True)) == 0
        # seq 2 went missing: the data are kept, and the edge node is asked to be born again.
        gap = spb.NData(timestamp=now, seq=3, metrics=(metric("spindle_speed", 503.0, now + 3),))
        assert edge.send("NDATA", gap.encode(include_dtypes=True)) == 0
        with edge._changed:
            assert edge._changed.wait_for(lambda: edge.commands, 30), "no rebirth request"
        rebirth = {m.name: m.value for m in edge.commands[0].metrics}
        assert rebirth == {"Node Control/Rebirth": True}
        wait_for(
            lambda: (
                stored_points(world.tenant, machine, SIGNALS)
                == {"spindle_speed": {now: 500.0, now + 1: 501.0, now + 3: 503.0}}
            ),
            timeout_s=30,
            what="the NBIRTH and NDATA points",
        )
        for device in ("press", "lathe"):
            device_birth = spb.DBirth(
                timestamp=now, seq=4, metrics=(metric("spindle_speed", 1.0, now + 9),)
            )
            reason = edge.send("DBIRTH", device_birth.encode(), device=device)
            # The first device is the machine; a second would be another machine.
            assert reason == (0 if device == "press" else 0x87), device
        assert edge.send("NDATA", b"\x00not protobuf") == 0x99
        # A death of an earlier birth changes nothing; the birth's own marks it offline.
        wait_for(lambda: connected(world), timeout_s=30, what="online")
        stale = spb.NDeath(timestamp=now, bd_seq_metric=metric("bdSeq", 2, now, spb.DataType.INT64))
        assert edge.send("NDEATH", stale.encode()) == 0
        time.sleep(1)
        assert connected(world)
        death = spb.NDeath(timestamp=now, bd_seq_metric=metric("bdSeq", 3, now, spb.DataType.INT64))
        assert edge.send("NDEATH", death.encode()) == 0
        wait_for(lambda: not connected(world), timeout_s=30, what="offline after its NDEATH")
    finally:
        edge.close()
