"""What a process must have to itself before it touches any data: its listening
ports and, in the embedded mode, its data directory.

A second `imcloud up` on the same machine would otherwise answer on ports another
instance holds and write into that instance's SQLite files; it stops instead,
saying which setting to change.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from imcloud_core.errors import ConfigurationError
from imcloud_platform.settings import Settings

LOCK_FILE = "imcloud.lock"


def listen_addresses(settings: Settings, services: Sequence[str]) -> dict[str, str]:
    """The addresses the given services listen on, by the setting that names each."""
    addresses = {}
    for name in services:
        addresses[f"IMCLOUD_{name.upper()}_GRPC__BIND"] = settings.grpc_endpoint(name).bind
    if "gateway" in services:
        gateway = settings.gateway
        addresses["IMCLOUD_GATEWAY__HTTP_PORT"] = f"{gateway.http_host}:{gateway.http_port}"
        if gateway.mqtt_enabled and gateway.mqtt_port:
            addresses["IMCLOUD_GATEWAY__MQTT_PORT"] = f"{gateway.mqtt_host}:{gateway.mqtt_port}"
        if gateway.mqtt_enabled and gateway.mqtt_tls_cert_file and gateway.mqtt_tls_port:
            addresses["IMCLOUD_GATEWAY__MQTT_TLS_PORT"] = (
                f"{gateway.mqtt_host}:{gateway.mqtt_tls_port}"
            )
    if settings.metrics_port:
        addresses["IMCLOUD_METRICS_PORT"] = f"{settings.metrics_host}:{settings.metrics_port}"
    return addresses


def require_free(addresses: dict[str, str]) -> None:
    """Refuses to start when another process listens on one of the addresses."""
    taken = [f"{setting}: {address}" for setting, address in addresses.items() if _taken(address)]
    if taken:
        raise ConfigurationError(
            "another process already listens on "
            + "; ".join(taken)
            + " (is imcloud already running? stop it, or choose other ports)"
        )


def _taken(address: str) -> bool:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - the same wildcard the server binds
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The server sets SO_REUSEADDR too, so a port that only lingers in
        # TIME_WAIT after a stop does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError:
            return True
    return False


class DataDirectoryLock:
    """Holds the embedded data directory for this process (an advisory file lock,
    released by the kernel however the process ends)."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigurationError(
                f"IMCLOUD_DATA_DIR: {self._path.parent} is in use by imcloud (pid {holder}); "
                "stop it, or give this instance a data directory of its own"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
