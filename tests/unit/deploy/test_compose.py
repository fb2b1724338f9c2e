"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

`docker-compose config` (Debian's docker-compose) validates the file against the
compose schema; the other tests check that it runs what the image provides.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from typing import Any

import pytest
import yaml

from imcloud_platform.cli import _parser
from imcloud_platform.modules import SERVICES
from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "infra" / "Dockerfile"


def compose_config(
    env: dict[str, str], *args: str, unset: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` with ``env`` added to this environment, ``unset`` removed."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: run 'make test-tools'", pytrace=False)
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [binary, "-f", str(COMPOSE), "config", *args],
        capture_output=True,
        text=True,
        env={**environment, **env},
        check=False,
        cwd=REPO,
    )


def exposed_ports() -> set[int]:
    """The ports the Dockerfile EXPOSEs."""
    return {
        int(port)
        for line in re.findall(r"^EXPOSE (.+)$", DOCKERFILE.read_text(), re.MULTILINE)
        for port in line.split()
    }


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = compose_config({"IMCLOUD_JWT_SECRET": "from-the-test"})
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_refuses_to_start_without_a_jwt_secret() -> None:
    result = compose_config({}, "-q", unset=("IMCLOUD_JWT_SECRET",))
    assert result.returncode != 0
    assert "IMCLOUD_JWT_SECRET" in result.stderr


def test_every_service_runs_with_a_health_check(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in SERVICES:
        assert services[name]["command"] == ["serve", name]
        assert "healthcheck" in services[name], f"{name} has no health check"
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["migrate"]["command"] == ["migrate"]


def test_every_imcloud_container_runs_a_command_the_image_knows(
    resolved: dict[str, Any],
) -> None:
    for service in resolved["services"].values():
        if service.get("image") != "imcloud:local":
            continue
        _parser().parse_args(service["command"])  # exits on an unknown command
        probe = service.get("healthcheck", {}).get("test", [])
        if probe[:2] == ["CMD", "imcloud"]:
            _parser().parse_args(probe[2:])


def test_services_find_each_other_by_their_compose_names(resolved: dict[str, Any]) -> None:
    env = resolved["services"]["gateway"]["environment"]
    for name in ("products", "production", "servitization"):
        host, port = env[f"IMCLOUD_{name.upper()}_GRPC__TARGET"].split(":")
        assert host == name
        bind_port = resolved["services"][name]["environment"][
            f"IMCLOUD_{name.upper()}_GRPC__BIND"
        ].split(":")[1]
        assert port == bind_port
    assert env["IMCLOUD_KAFKA__BOOTSTRAP_SERVERS"].split(":")[0] in resolved["services"]


def test_the_gateway_publishes_its_rest_device_link_and_mqtt_ports(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from imcloud_platform.claims import listen_addresses
    from imcloud_platform.settings import Settings

    gateway = resolved["services"]["gateway"]
    for key in [k for k in os.environ if k.startswith("IMCLOUD_")]:
        monkeypatch.delenv(key)
    for key, value in gateway["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = Settings()
    listening = listen_addresses(settings, ["gateway"])
    published = {int(p["target"]): int(p["published"]) for p in gateway["ports"]}
    # REST API, device link and MQTT, on the host's same ports; metrics stay inside.
    for setting in (
        "IMCLOUD_GATEWAY__HTTP_PORT",
        "IMCLOUD_GATEWAY_GRPC__BIND",
        "IMCLOUD_GATEWAY__MQTT_PORT",
    ):
        host, _, port = listening[setting].rpartition(":")
        # A published port the process binds to its loopback answers nobody.
        assert host == "0.0.0.0", f"{setting}: {listening[setting]}"  # noqa: S104
        assert published.get(int(port)) == int(port), setting
    assert settings.gateway.mqtt_port == 1883
    assert set(published) <= exposed_ports()


def test_the_image_exposes_the_gateways_public_ports() -> None:
    # REST API, device link, MQTT.
    assert {8080, 50050, 1883} <= exposed_ports()


def test_the_dockerfile_installs_every_workspace_member() -> None:
    workspace = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    members = sorted(
        str(path.parent.relative_to(REPO))
        for pattern in workspace["members"]
        for path in REPO.glob(f"{pattern}/pyproject.toml")
    )
    copied = re.findall(r"^COPY (\S+)/pyproject.toml", DOCKERFILE.read_text(), re.MULTILINE)
    assert sorted(copied) == members


def test_the_image_runs_as_a_non_root_user() -> None:
    users = re.findall(r"^USER (\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert users, "no USER line"
    assert users[-1] not in ("root", "0")


def test_the_postgres_init_script_creates_every_service_database() -> None:
    sql = (REPO / "infra" / "compose" / "postgres-init.sql").read_text()
    for name in SERVICES:
        assert f"CREATE DATABASE imcloud_{name};" in sql
