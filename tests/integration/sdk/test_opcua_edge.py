"""`imcloud-edge` against a real OPC UA server (asyncua's) simulating a CNC control:
the mapped nodes' changes are stored with their source timestamps, once each, also
after the OPC UA server restarts; a mapping naming a node the server lacks is refused."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from asyncua import Server, ua

from tests.integration.sdk.telemetry import count, stored_points
from tests.support.platform import IMCLOUD, RunningPlatform, imcloud_environment
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.world import onboard

EDGE = [sys.executable, "-m", "imcloud_device.edge"]
NAMESPACE = "urn:example:cnc"
WRITE_EVERY_S = 0.05
# The node ids the CNC publishes, and the signals the mapping gives them.
NODES = {
    "ns=2;s=Spindle.Speed": "spindle_speed",
    "ns=2;s=Spindle.Temperature": "spindle_temperature",
}
PROGRAM = "ns=2;s=Program.Name"


class CncControl:
    """An OPC UA server in its own thread, changing its spindle's values every 50 ms;
    it remembers every (source time, value) it published, per node."""

    def __init__(self, port: int) -> None:
        self.endpoint = f"opc.tcp://127.0.0.1:{port}"
        self.published: dict[str, set[tuple[int, float]]] = {node: set() for node in NODES}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: Server | None = None
        self._writing: asyncio.Future[None] | None = None
        self._step = 0

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)

    def close(self) -> None:
        if self._server is not None:
            self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        index = await server.register_namespace(NAMESPACE)
        assert index == 2
        cnc = await server.get_objects_node().add_object(index, "CNC")
        variables = [await cnc.add_variable(node, node.split("=")[-1], 0.0) for node in NODES]
        await cnc.add_variable(PROGRAM, "Program.Name", "O1234 HOUSING")
        await server.start()
        self._server = server
        self._writing = asyncio.ensure_future(self._write(variables))

    async def _write(self, variables: list) -> None:
        while True:
            self._step += 1
            for variable, node in zip(variables, NODES, strict=True):
                value = float(self._step if node.endswith("Speed") else 20 + self._step / 10)
                now = datetime.now(UTC)
                await variable.write_value(
                    ua.DataValue(ua.Variant(value, ua.VariantType.Double), SourceTimestamp=now)
                )
                self.published[node].add((round(now.timestamp() * 1000), value))
            await asyncio.sleep(WRITE_EVERY_S)

    async def _stop(self) -> None:
        assert self._writing is not None
        assert self._server is not None
        self._writing.cancel()
        await self._server.stop()
        self._server = None


def _mapping(path: Path, endpoint: str, nodes: dict[str, str]) -> Path:
    entries = "".join(f'\n[[signals]]\nnode = "{n}"\nsignal = "{s}"\n' for n, s in nodes.items())
    path.write_text(f'endpoint = "{endpoint}"\npublishing_interval_ms = 100\n{entries}')
    return path


def test_the_mapped_nodes_are_stored_once_with_their_source_times_through_a_server_restart(
    embedded_platform: RunningPlatform, tmp_path: Path
) -> None:
    world = onboard(embedded_platform.base_url, "OPC UA maker", machines=1)
    machine = world.ids["equipment_id"]
    cnc = CncControl(free_port())
    cnc.start()
    # The program name is a string: reported, not forwarded, and nothing stops.
    mapping = _mapping(tmp_path / "cnc.toml", cnc.endpoint, {**NODES, PROGRAM: "program"})
    edge = subprocess.Popen(
        [
            *EDGE,
            str(mapping),
            "--device-link",
            embedded_platform.device_link,
            "--report-every",
            "1",
        ],
        env=imcloud_environment({"IMCLOUD_DEVICE_CREDENTIAL": world.device_secrets[machine]}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def stored() -> dict[str, dict[int, float]]:
            return stored_points(world.tenant, machine, NODES.values())

        wait_for(lambda: count(stored()) >= 20, timeout_s=60, interval_s=0.5, what="points")
        cnc.stop()
        before_restart = count(stored())
        cnc.start()
        wait_for(
            lambda: count(stored()) >= before_restart + 20,
            timeout_s=60,
            interval_s=0.5,
            what="points after the OPC UA server restarted",
        )
    finally:
        edge.terminate()
        output, _ = edge.communicate(timeout=30)
        cnc.close()
    assert edge.returncode == 0, output
    points = stored()
    for node, signal in NODES.items():
        stored_pairs = {(stamp, value) for stamp, value in points[signal].items()}
        assert stored_pairs <= cnc.published[node], f"{signal}: stored what the CNC never sent"
    *_, last = re.findall(
        r"edge: (\d+) values forwarded, (\d+) not numbers.*accepted (\d+)", output
    )
    forwarded, not_numbers, accepted = map(int, last)
    assert forwarded == accepted == count(points), output
    assert not_numbers >= 1, output
    assert "no number: not forwarded" in output


def test_a_mapping_naming_a_node_the_server_lacks_is_refused_with_its_entry(
    embedded_platform: RunningPlatform, tmp_path: Path
) -> None:
    world = onboard(embedded_platform.base_url, "OPC UA typo", machines=1)
    cnc = CncControl(free_port())
    cnc.start()
    try:
        mapping = _mapping(
            tmp_path / "typo.toml",
            cnc.endpoint,
            {"ns=2;s=Spindle.Speed": "spindle_speed", "ns=2;s=Spindle.Sped": "spindle_temperature"},
        )
        # The same command as `imcloud edge`, where the platform is installed.
        result = subprocess.run(
            [*IMCLOUD, "edge", str(mapping), "--device-link", embedded_platform.device_link],
            env=imcloud_environment(
                {"IMCLOUD_DEVICE_CREDENTIAL": world.device_secrets[world.ids["equipment_id"]]}
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        cnc.close()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "signals[1].node: ns=2;s=Spindle.Sped is not on the server" in result.stderr
