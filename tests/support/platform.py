"""Runs imcloud as a user would: the `imcloud` command in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.ports import free_port
from tests.support.waiting import wait_for

IMCLOUD = [sys.executable, "-m", "imcloud_platform.cli"]
SERVICES = ("gateway", "products", "production", "servitization")


@dataclass
class Ports:
    """Free ports for every listener, so tests never collide with a running imcloud."""

    http: int = field(default_factory=free_port)
    grpc: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})

    def environment(self) -> dict[str, str]:
        env = {"IMCLOUD_GATEWAY__HTTP_PORT": str(self.http)}
        for service, port in self.grpc.items():
            prefix = f"IMCLOUD_{service.upper()}_GRPC"
            env[f"{prefix}__BIND"] = f"127.0.0.1:{port}"
            env[f"{prefix}__TARGET"] = f"127.0.0.1:{port}"
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http}"


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
