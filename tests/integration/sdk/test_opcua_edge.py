"""`imcloud-edge` against a real OPC UA server (asyncua's) simulating a CNC control:
the mapped nodes' changes are stored with their source timestamps, once each, also
after the OPC UA server is killed and comes back; a mapping naming a node the server
lacks is refused."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.integration.sdk.cnc_control import PROGRAM, SPINDLE
from tests.integration.sdk.telemetry import count, stored_points
from tests.support.platform import IMCLOUD, RunningPlatform, imcloud_environment
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.world import onboard

EDGE = [sys.executable, "-m", "imcloud_device.edge"]
REPOSITORY = Path(__file__).parents[3]
# The signals the mapping gives the CNC's spindle nodes.
NODES = dict(zip(SPINDLE, ("spindle_speed", "spindle_temperature"), strict=True))


class CncControl:
    """The CNC's OPC UA server as a process (cnc_control.py), started and killed by
    the test; `published` reads back every (source time, value) it published, per
    node, across its lives."""

    def __init__(self, directory: Path) -> None:
        self.endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
        self._directory = directory
        self._record = directory / "published.jsonl"
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        port = self.endpoint.rsplit(":", 1)[1]
        with (self._directory / "cnc.log").open("a") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.integration.sdk.cnc_control",
                    port,
                    str(self._record),
                ],
                cwd=REPOSITORY,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self._process.stdout is not None
        # The control serves once it says so; a control that died says nothing.
        line = self._process.stdout.readline()
        assert line.strip() == "ready", (self._directory / "cnc.log").read_text()

    def kill(self) -> None:
        assert self._process is not None
        self._process.kill()
        self._process.wait(timeout=30)
        self._process = None

    def close(self) -> None:
        if self._process is not None:
            self.kill()

    @property
    def published(self) -> dict[str, set[tuple[int, float]]]:
        published: dict[str, set[tuple[int, float]]] = {node: set() for node in NODES}
        for line in self._record.read_text().splitlines():
            node, stamp, value = json.loads(line)
            published[node].add((stamp, value))
        return published


def _mapping(path: Path, endpoint: str, nodes: dict[str, str]) -> Path:
    entries = "".join(f'\n[[signals]]\nnode = "{n}"\nsignal = "{s}"\n' for n, s in nodes.items())
    path.write_text(f'endpoint = "{endpoint}"\npublishing_interval_ms = 100\n{entries}')
    return path


def test_the_mapped_nodes_are_stored_once_with_their_source_times_through_a_server_restart(
    embedded_platform: RunningPlatform, tmp_path: Path
) -> None:
    world = onboard(embedded_platform.base_url, "OPC UA maker", machines=1)
    machine = world.ids["equipment_id"]
    cnc = CncControl(tmp_path)
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
        cnc.kill()
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
    cnc = CncControl(tmp_path)
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
