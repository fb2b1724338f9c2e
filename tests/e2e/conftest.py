"""The platforms the e2e tests drive: started once per test session, as a user would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from imcloud_core.rpc import check_health
from tests.conftest import FreshDatabases
from tests.support.platform import (
    SERVICES,
    ImcloudProcess,
    Ports,
    run_imcloud,
    wait_until_healthy,
)
from tests.support.waiting import wait_for


@dataclass
class RunningPlatform:
    ports: Ports
    processes: dict[str, ImcloudProcess]
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.ports.base_url

    def assert_running(self) -> None:
        for process in self.processes.values():
            process.assert_running()

    def kill_and_restart(self, service: str) -> None:
        """SIGKILL, as a crash or an evicted pod, then a new process of the service."""
        old = self.processes[service]
        old.process.kill()
        old.process.wait()
        self.processes[service] = ImcloudProcess(
            "serve", service, env=self.env, log_path=old.log_path.with_suffix(".restarted.log")
        )
        port = self.ports.grpc[service]
        wait_for(
            lambda: self.processes[service].assert_running() or check_health(f"127.0.0.1:{port}"),
            timeout_s=60,
            interval_s=0.2,
            what=f"{service} back up",
        )


def _stop(platform: RunningPlatform) -> None:
    failures = [
        f"{name} exited with {code}:\n{process.log()[-3000:]}"
        for name, process in platform.processes.items()
        if (code := process.stop()) != 0
    ]
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="session")
def distributed_platform(
    kafka_bootstrap: str, session_postgres: FreshDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    """One process per service on real PostgreSQL and Kafka (`imcloud serve`)."""
    ports = Ports()
    env = {
        "IMCLOUD_BUS": "kafka",
        "IMCLOUD_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "IMCLOUD_GATEWAY__JWT_SECRET": uuid.uuid4().hex,
        **ports.environment(),
    }
    for service in SERVICES:
        env[f"IMCLOUD_DATABASE_URLS__{service.upper()}"] = session_postgres.create(service)
    migrated = run_imcloud("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    logs = tmp_path_factory.mktemp("distributed")
    platform = RunningPlatform(
        ports=ports,
        processes={
            service: ImcloudProcess("serve", service, env=env, log_path=logs / f"{service}.log")
            for service in SERVICES
        },
        env=env,
    )
    try:
        wait_until_healthy(platform.processes["gateway"], ports.base_url, timeout_s=60)
        for service, port in ports.grpc.items():
            wait_for(
                lambda port=port, process=platform.processes[service]: (
                    process.assert_running() or check_health(f"127.0.0.1:{port}")
                ),
                timeout_s=60,
                interval_s=0.2,
                what=f"{service} gRPC health",
            )
        wait_for(
            lambda: httpx.get(f"{ports.base_url}/readyz").status_code == 200,
            timeout_s=30,
            what="gateway readiness",
        )
        yield platform
    finally:
        _stop(platform)


@pytest.fixture(scope="session")
def embedded_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """The whole platform in one process (`imcloud up`), no outside servers."""
    ports = Ports()
    data: Path = tmp_path_factory.mktemp("embedded")
    env = {
        **ports.environment(),
        "IMCLOUD_DATA_DIR": str(data),
        # The fuzzer sends thousands of requests; limits are tested on their own.
        "IMCLOUD_GATEWAY__TENANT_RATE_PER_S": "100000",
        "IMCLOUD_GATEWAY__TENANT_BURST": "100000",
        "IMCLOUD_GATEWAY__CREDENTIAL_RATE_PER_S": "100000",
        "IMCLOUD_GATEWAY__CREDENTIAL_BURST": "100000",
    }
    platform = RunningPlatform(
        ports=ports,
        processes={"all": ImcloudProcess("up", env=env, log_path=data / "up.log")},
        env=env,
    )
    try:
        wait_until_healthy(platform.processes["all"], ports.base_url, timeout_s=30)
        yield platform
    finally:
        _stop(platform)
