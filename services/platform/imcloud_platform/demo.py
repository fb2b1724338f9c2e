"""`imcloud up --demo`: once the platform answers, a small simulated plant
streams into it from the same process until the platform stops."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
from rich.console import Console

from imcloud_core.logging import get_logger
from imcloud_core.rpc import check_health
from imcloud_platform.settings import Settings
from imcloud_simulator.command import quiet_client_logs
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.onboarding import (
    OnboardedPlant,
    OnboardingError,
    onboard_plant,
)
from imcloud_simulator.runner import FleetRunner

log = get_logger(__name__)

MACHINES = 5
RATE_HZ = 1.0
STARTUP_TIMEOUT_S = 120.0
# The device link is watched so the plant stops before the gateway drains its streams.
WATCH_INTERVAL_S = 0.5


class DemoPlant:
    def __init__(self, settings: Settings, *, console: Console | None = None) -> None:
        self.api_url = settings.local_api_url()
        self.device_link = settings.gateway_grpc.target
        self._console = console or Console()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.plant: OnboardedPlant | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-plant", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            if not self._wait_for_platform():
                return
            quiet_client_logs()
            fleet = Fleet(MACHINES, rate_hz=RATE_HZ)
            run_id = secrets.token_hex(3)
            self.plant = onboard_plant(
                self.api_url, fleet, run_id=run_id, tenant_name=f"Demo plant {run_id}"
            )
            self._announce(self.plant)
            threading.Thread(target=self._watch_gateway, name="demo-watch", daemon=True).start()
            FleetRunner(fleet, self.plant, device_link=self.device_link).run(
                self._stop, close_timeout_s=0.0
            )
        except OnboardingError as exc:
            log.error("the demo plant could not be onboarded", error=str(exc))
        except Exception:
            log.exception("the demo plant failed")

    def _wait_for_platform(self) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._stop.is_set():
            try:
                if httpx.get(f"{self.api_url}/healthz", timeout=1).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                log.error("the demo plant gave up: the platform did not answer", url=self.api_url)
                return False
            self._stop.wait(0.2)
        return False

    def _watch_gateway(self) -> None:
        """Stops the plant once the device link stops serving (the platform is
        shutting down), so the gateway need not wait for the plant's streams."""
        failures = 0
        while not self._stop.wait(WATCH_INTERVAL_S):
            failures = 0 if check_health(self.device_link, timeout_s=1.0) else failures + 1
            if failures >= 2:
                self._stop.set()

    def _announce(self, plant: OnboardedPlant) -> None:
        key, api = plant.api_key, self.api_url
        first = plant.machines[0]
        machine_url = f"{api}/v1/equipment/{first.equipment_id}"
        now = datetime.now(UTC)
        since, until = (
            (now + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
            for delta in (timedelta(minutes=-10), timedelta(days=1))
        )
        auth = f'-H "authorization: Bearer {key}"'
        console = self._console
        console.rule()
        console.print(
            f"[bold]imcloud demo[/bold]: {len(plant.machines)} simulated machines stream at "
            f"{RATE_HZ:g} Hz into a new demo tenant; Ctrl-C stops everything.",
            soft_wrap=True,
        )
        lines = [
            ("API key", f"{key}   (the demo tenant's owner key)"),
            ("API docs", f"{api}/docs"),
            ("machines", f"curl {auth} {api}/v1/equipment"),
            (f"twin of {first.machine.name}", f"curl {auth} {machine_url}/twin"),
            (
                "its minutes",
                f"curl {auth} '{machine_url}/telemetry/aggregates?start={since}"
                f"&end={until}&bucket_s=60'",
            ),
        ]
        for label, text in lines:
            # No wrapping: keys and commands must survive copy and paste.
            console.print(f"[bold]{label + ':':<22}[/bold]{text}", soft_wrap=True, highlight=False)
        console.rule()
