"""Runs imcloud as a user would: the `imcloud` command in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from imcloud_core.rpc import check_health
from imcloud_core.settings import KafkaSettings
from tests.support.ports import free_port
from tests.support.waiting import wait_for

IMCLOUD = [sys.executable, "-m", "imcloud_platform.cli"]
SERVICES = ("gateway", "products", "production", "servitization")
# For platforms whose tests send thousands of requests; limits are tested on their own.
RAISED_RATE_LIMITS = {
    "IMCLOUD_GATEWAY__TENANT_RATE_PER_S": "100000",
    "IMCLOUD_GATEWAY__TENANT_BURST": "100000",
    "IMCLOUD_GATEWAY__CREDENTIAL_RATE_PER_S": "100000",
    "IMCLOUD_GATEWAY__CREDENTIAL_BURST": "100000",
}


@dataclass
class Ports:
    """Free ports for every listener, so tests never collide with a running imcloud."""

    http: int = field(default_factory=free_port)
    mqtt: int = field(default_factory=free_port)
    grpc: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})

    def environment(self) -> dict[str, str]:
        env = {
            "IMCLOUD_GATEWAY__HTTP_PORT": str(self.http),
            "IMCLOUD_GATEWAY__MQTT_PORT": str(self.mqtt),
            # No test platform claims the standard TLS port; a test that wants TLS
            # gives a certificate and a port of its own.
            "IMCLOUD_GATEWAY__MQTT_TLS_PORT": "0",
        }
        for service, port in self.grpc.items():
            prefix = f"IMCLOUD_{service.upper()}_GRPC"
            env[f"{prefix}__BIND"] = f"127.0.0.1:{port}"
            env[f"{prefix}__TARGET"] = f"127.0.0.1:{port}"
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    @property
    def device_link(self) -> str:
        """Where machines connect: the gateway's gRPC device link."""
        return f"127.0.0.1:{self.grpc['gateway']}"


def imcloud_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMCLOUD_")}
    env.update({"IMCLOUD_LOG_FORMAT": "json", "IMCLOUD_METRICS_PORT": "0"})
    env.update(extra)
    return env


def run_imcloud(
    *args: str, env: dict[str, str], timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*IMCLOUD, *args],
        env=imcloud_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


class ImcloudProcess:
    def __init__(self, *args: str, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [*IMCLOUD, *args],
            env=imcloud_environment(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def assert_running(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"imcloud exited with {self.process.returncode}:\n{self.log()}")

    def stop(self, timeout_s: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"imcloud ignored SIGTERM for {timeout_s} s") from None
        self._log.close()
        return self.process.returncode


def wait_until_healthy(process: ImcloudProcess, base_url: str, *, timeout_s: float) -> float:
    """Seconds until /healthz answered 200."""
    import time

    started = time.monotonic()

    def healthy() -> bool:
        process.assert_running()
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, timeout_s=timeout_s, interval_s=0.2, what="/healthz")
    return time.monotonic() - started


@dataclass
class RunningPlatform:
    ports: Ports
    processes: dict[str, ImcloudProcess]
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.ports.base_url

    @property
    def device_link(self) -> str:
        return self.ports.device_link

    def kafka_settings(self) -> KafkaSettings:
        """How a test client reaches this platform's topics (its broker and namespace)."""
        return KafkaSettings(
            bootstrap_servers=self.env["IMCLOUD_KAFKA__BOOTSTRAP_SERVERS"],
            namespace=self.env.get("IMCLOUD_KAFKA__NAMESPACE", ""),
        )

    def wait_serving(self, service: str) -> None:
        """Until the service's process answers gRPC health (it fails if the process exits)."""
        port = self.ports.grpc[service]
        wait_for(
            lambda: self.processes[service].assert_running() or check_health(f"127.0.0.1:{port}"),
            timeout_s=60,
            interval_s=0.2,
            what=f"{service} gRPC health",
        )

    def kill_and_restart(self, service: str) -> None:
        """SIGKILL, as a crash or an evicted pod, then a new process of the service."""
        old = self.processes[service]
        old.process.kill()
        old.process.wait()
        self.processes[service] = ImcloudProcess(
            "serve", service, env=self.env, log_path=old.log_path.with_suffix(".restarted.log")
        )
        self.wait_serving(service)

    def stop(self) -> None:
        """Stops every process; each must exit with 0."""
        failures = [
            f"{name} exited with {code}:\n{process.log()[-3000:]}"
            for name, process in self.processes.items()
            if (code := process.stop()) != 0
        ]
        assert not failures, "\n".join(failures)


@contextmanager
def distributed(
    kafka_bootstrap: str,
    create_database: Callable[[str], str],
    logs: Path,
    **env: str,
) -> Iterator[RunningPlatform]:
    """One `imcloud serve` process per service on real PostgreSQL and Kafka, each
    service on a database ``create_database(service)`` made, with ``env`` added to
    their environment; migrated, healthy and ready when the block starts, stopped
    (each exiting with 0) when it ends. Their logs are in ``logs``."""
    ports = Ports()
    environment = {
        "IMCLOUD_BUS": "kafka",
        "IMCLOUD_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        # Its own topics and groups: test runs sharing the broker never meet.
        "IMCLOUD_KAFKA__NAMESPACE": f"test-{uuid.uuid4().hex[:8]}",
        "IMCLOUD_GATEWAY__JWT_SECRET": uuid.uuid4().hex,
        **ports.environment(),
        **env,
    }
    for service in SERVICES:
        environment[f"IMCLOUD_DATABASE_URLS__{service.upper()}"] = create_database(service)
    migrated = run_imcloud("migrate", env=environment)
    assert migrated.returncode == 0, migrated.stderr
    platform = RunningPlatform(
        ports=ports,
        processes={
            service: ImcloudProcess(
                "serve", service, env=environment, log_path=logs / f"{service}.log"
            )
            for service in SERVICES
        },
        env=environment,
    )
    try:
        wait_until_healthy(platform.processes["gateway"], ports.base_url, timeout_s=60)
        for service in ports.grpc:
            platform.wait_serving(service)
        wait_for(
            lambda: httpx.get(f"{ports.base_url}/readyz").status_code == 200,
            timeout_s=30,
            what="gateway readiness",
        )
        yield platform
    finally:
        platform.stop()


@contextmanager
def embedded(
    data_dir: Path, *args: str, timeout_s: float = 30, **env: str
) -> Iterator[RunningPlatform]:
    """`imcloud up [args]`, the whole platform in one process, on free ports, with its
    data and its log (up.log) in ``data_dir`` and ``env`` added to its environment.

    Healthy within ``timeout_s`` when the block starts; stopped when it ends, and it
    must exit with 0. Its one process is ``processes["all"]``.
    """
    ports = Ports()
    environment = {**ports.environment(), "IMCLOUD_DATA_DIR": str(data_dir), **env}
    process = ImcloudProcess("up", *args, env=environment, log_path=data_dir / "up.log")
    platform = RunningPlatform(ports=ports, processes={"all": process}, env=environment)
    try:
        wait_until_healthy(process, ports.base_url, timeout_s=timeout_s)
        yield platform
    finally:
        platform.stop()
