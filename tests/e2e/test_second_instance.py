"""A second `imcloud up` on a machine where one already runs stops before it touches
anything: it neither answers on the first one's ports nor writes into its data."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.platform import Ports, RunningPlatform, run_imcloud


def refused(env: dict[str, str]) -> str:
    result = run_imcloud("up", env=env, timeout_s=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return result.stderr


def test_the_ports_of_a_running_instance_are_refused_before_any_data_is_written(
    embedded_platform: RunningPlatform, tmp_path: Path
) -> None:
    message = refused({**embedded_platform.ports.environment(), "IMCLOUD_DATA_DIR": str(tmp_path)})
    assert "another process already listens on" in message
    assert f"IMCLOUD_GATEWAY__HTTP_PORT: 127.0.0.1:{embedded_platform.ports.http}" in message
    assert "IMCLOUD_PRODUCTS_GRPC__BIND" in message
    assert f"IMCLOUD_GATEWAY__MQTT_PORT: 127.0.0.1:{embedded_platform.ports.mqtt}" in message
    assert not list(tmp_path.glob("*.db")), "the refused instance created databases"
    assert httpx.get(f"{embedded_platform.base_url}/healthz").status_code == 200


def test_a_grpc_port_in_use_is_refused_even_when_the_rest_is_free(
    embedded_platform: RunningPlatform, tmp_path: Path
) -> None:
    # gRPC servers may share a port (SO_REUSEPORT): that must not happen silently.
    env = Ports().environment()
    taken = embedded_platform.ports.grpc["servitization"]
    env["IMCLOUD_SERVITIZATION_GRPC__BIND"] = f"127.0.0.1:{taken}"
    message = refused({**env, "IMCLOUD_DATA_DIR": str(tmp_path)})
    assert f"IMCLOUD_SERVITIZATION_GRPC__BIND: 127.0.0.1:{taken}" in message
    assert "IMCLOUD_GATEWAY__HTTP_PORT" not in message


def test_the_data_directory_of_a_running_instance_is_refused(
    embedded_platform: RunningPlatform,
) -> None:
    data_dir = embedded_platform.env["IMCLOUD_DATA_DIR"]
    message = refused({**Ports().environment(), "IMCLOUD_DATA_DIR": data_dir})
    assert "IMCLOUD_DATA_DIR" in message
    assert "is in use by imcloud (pid" in message
    assert httpx.get(f"{embedded_platform.base_url}/healthz").status_code == 200
