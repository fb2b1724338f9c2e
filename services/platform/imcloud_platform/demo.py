"""`imcloud up --demo`: once the platform answers, a small simulated plant
streams into it from the same process until the platform stops.

Its machining line (three CNC mills, one per operation of the product's
routing) works through a shift on work orders, with a script that shows OEE
move within minutes: a breakdown, small stops, slow cycles with scrap, a
changeover with start-up rejects and a planned stop, again every half hour.
The console shows the line's OEE every minute.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.markup import escape

from imcloud_core.logging import get_logger
from imcloud_core.rpc import check_health
from imcloud_platform.settings import Settings
from imcloud_simulator.command import quiet_client_logs
from imcloud_simulator.display import oee_line
from imcloud_simulator.faults import Fault
from imcloud_simulator.fleet import FaultInjection, Fleet, Scripted, StateChange
from imcloud_simulator.machines import DOWN, IDLE, PLANNED_STOP, SETUP, CncMill
from imcloud_simulator.onboarding import (
    OnboardedPlant,
    OnboardingError,
    PlatformApi,
    onboard_plant,
)
from imcloud_simulator.production import (
    SHIFT_HOURS,
    ProductionLine,
    complete_work_order,
    onboard_production,
    operation,
    start_work_order,
)
from imcloud_simulator.runner import FleetRunner

log = get_logger(__name__)

# Three CNC mills (the machining line), a pump and a press.
MACHINES = 5
RATE_HZ = 1.0
# A seed whose random setups and faults keep off the line for its first twenty
# minutes, so that what OEE shows there is the script's story, every time.
SEED = 87
LINE_KIND = CncMill.KIND
STARTUP_TIMEOUT_S = 120.0
# The device link is watched so the plant stops before the gateway drains its streams.
WATCH_INTERVAL_S = 0.5
# Good units per work order: one takes the line about half an hour.
WORK_ORDER_QUANTITY = 30.0
REPORT_EVERY_S = 60.0
SCRIPT_REPEAT_S = 1800.0
# What the API answers while production is not served (an older platform).
UNAVAILABLE = (404, 501)
MINUTE = timedelta(minutes=1)


def demo_script(
    line: Sequence[int],
    *,
    repeat_every_s: float = SCRIPT_REPEAT_S,
    until_s: float = SHIFT_HOURS * 3600.0,
) -> list[Scripted]:
    """What happens to the first three machines of the line (fleet indices), from
    the start and again every ``repeat_every_s``."""
    first, second, third = line[:3]
    story: list[Scripted] = [
        StateChange(90.0, second, DOWN, 75.0),  # a jam, cleared: a small stop
        StateChange(150.0, first, DOWN, 180.0),  # a breakdown: three minutes down
        # Coolant runs short: slow cycles and scrap for seven minutes.
        FaultInjection(240.0, third, Fault.COOLANT_LOSS, duration_s=420.0, severity=1.0),
        StateChange(420.0, second, IDLE, 60.0),  # waiting for material: a small stop
        StateChange(540.0, first, DOWN, 45.0),  # another jam
        StateChange(600.0, second, SETUP, 240.0),  # a changeover, start-up rejects after it
        StateChange(900.0, third, PLANNED_STOP, 300.0),  # cleaning: planned, no loss
    ]
    repeats = range(int(until_s // repeat_every_s) + 1)
    return [
        dataclasses.replace(event, at_s=event.at_s + n * repeat_every_s)
        for n in repeats
        for event in story
        if event.at_s + n * repeat_every_s < until_s
    ]


def _minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


def _first_whole_minute(instant: datetime) -> datetime:
    """The first whole minute at or after ``instant``: OEE counts whole minutes, and
    one the machines were not yet streaming in would count as downtime."""
    floor = _minute(instant)
    return floor if floor == instant else floor + MINUTE


def _rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
            fleet = Fleet(MACHINES, seed=SEED, rate_hz=RATE_HZ)
            run_id = secrets.token_hex(3)
            self.plant = plant = onboard_plant(
                self.api_url, fleet, run_id=run_id, tenant_name=f"Demo plant {run_id}"
            )
            started = datetime.now(UTC)
            line, work_order_id = self._set_up_production(fleet, plant, run_id, started)
            fleet.play(
                demo_script([m.index for m in fleet.machines if m.kind.key == LINE_KIND.key])
            )
            self._announce(plant, line, started)
            threading.Thread(target=self._watch_gateway, name="demo-watch", daemon=True).start()
            if line is not None and work_order_id is not None:
                threading.Thread(
                    target=self._follow,
                    args=(plant, line, work_order_id, started),
                    name="demo-production",
                    daemon=True,
                ).start()
            FleetRunner(fleet, plant, device_link=self.device_link).run(
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

    def _set_up_production(
        self, fleet: Fleet, plant: OnboardedPlant, run_id: str, now: datetime
    ) -> tuple[ProductionLine | None, str | None]:
        """The demo line and its first work order; (None, None), said on the
        console, when the platform refused a step: the machines stream anyway."""
        api = PlatformApi(self.api_url, plant.api_key)
        try:
            production = onboard_production(
                api, fleet, plant, run_id=run_id, now=now, quantity=WORK_ORDER_QUANTITY
            )
        except OnboardingError as exc:
            self._console.print(
                f"[yellow]imcloud demo: the production setup failed, so no work orders and "
                f"no OEE: {escape(str(exc))}; the machines stream all the same[/yellow]",
                soft_wrap=True,
            )
            return None, None
        finally:
            api.close()
        line = next(line for line in production.lines if line.kind_key == LINE_KIND.key)
        return line, production.work_orders[line.line_id]

    def _follow(
        self, plant: OnboardedPlant, line: ProductionLine, work_order_id: str, started: datetime
    ) -> None:
        api = PlatformApi(self.api_url, plant.api_key)
        follower = LineFollower(api, self._console, plant, line, work_order_id, started=started)
        try:
            while not self._stop.wait(REPORT_EVERY_S):
                follower.report(datetime.now(UTC))
        finally:
            api.close()

    def _announce(
        self, plant: OnboardedPlant, line: ProductionLine | None, started: datetime
    ) -> None:
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
            ("console", f"{api}/   (sign in with the API key)"),
            ("API docs", f"{api}/docs"),
            ("machines", f"curl {auth} {api}/v1/equipment"),
            (f"twin of {first.machine.name}", f"curl {auth} {machine_url}/twin"),
            (
                "its minutes",
                f"curl {auth} '{machine_url}/telemetry/aggregates?start={since}"
                f"&end={until}&bucket_s=60'",
            ),
        ]
        if line is not None:
            oee_since = _rfc3339(_first_whole_minute(started))
            lines += [
                (
                    "line OEE",
                    f'curl {auth} "{api}/v1/oee?line_id={line.line_id}&start_time={oee_since}'
                    '&end_time=$(date -u +%Y-%m-%dT%H:%M:00Z)&breakdown=station"',
                ),
                ("work orders", f"curl {auth} '{api}/v1/work-orders?plant_id={plant.plant_id}'"),
                (
                    f"states of {first.machine.name}",
                    f'curl {auth} "{api}/v1/stations/{first.station_id}/states'
                    f'?start_time={oee_since}&end_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)"',
                ),
                (
                    "stops",
                    f"curl {auth} '{api}/v1/downtimes?line_id={line.line_id}"
                    f"&start_time={oee_since}&end_time={until}'",
                ),
            ]
        for label, text in lines:
            # No wrapping: keys and commands must survive copy and paste.
            console.print(f"[bold]{label + ':':<22}[/bold]{text}", soft_wrap=True, highlight=False)
        if line is not None:
            console.print(
                f"The {LINE_KIND.line_name} line works on {line.part_number} work orders of "
                f"{WORK_ORDER_QUANTITY:.0f}; in its first minutes one mill breaks down for 3 "
                "minutes, others stop briefly, run slow and scrap, change over and stop as "
                "planned (again every 30 minutes). Its OEE follows every minute.",
                soft_wrap=True,
            )
        console.rule()


class LineFollower:
    """What the demo prints every minute: the work order's progress (and the next
    one once its quantity is made), and the line's OEE since the start, per
    station. While the platform does not serve production (404, 501) it says so
    once and keeps asking; any other refusal it prints each time."""

    def __init__(
        self,
        api: PlatformApi,
        console: Console,
        plant: OnboardedPlant,
        line: ProductionLine,
        work_order_id: str,
        *,
        started: datetime,
    ) -> None:
        self._api = api
        self._console = console
        self._plant = plant
        self._line = line
        self.work_order_id = work_order_id
        self._started = started
        self._unavailable: set[str] = set()

    def report(self, now: datetime) -> None:
        self._attempt("work orders", lambda: self._work_order(now))
        self._attempt("OEE", lambda: self._oee(now))

    def _attempt(self, what: str, call: Callable[[], None]) -> None:
        try:
            call()
        except OnboardingError as exc:
            if exc.status not in UNAVAILABLE:
                self._console.print(
                    f"[yellow]imcloud demo: {what}: {escape(str(exc))}[/yellow]", soft_wrap=True
                )
            elif what not in self._unavailable:
                self._unavailable.add(what)
                self._console.print(
                    f"[yellow]imcloud demo: {what} not served yet ({escape(str(exc))}); "
                    "the machines stream on, asking again every minute[/yellow]",
                    soft_wrap=True,
                )

    def _work_order(self, now: datetime) -> None:
        line, api = self._line, self._api
        order = api.get(f"/v1/work-orders/{self.work_order_id}")
        made = (
            f"{order['good_quantity']:.0f}/{order['quantity']:.0f} good, "
            f"{order['scrap_quantity']:.0f} scrap"
        )
        if order["good_quantity"] < order["quantity"]:
            self._print(f"work order {line.part_number} {self.work_order_id}: {made}")
            return
        complete_work_order(api, order)
        self._print(f"work order {line.part_number} {self.work_order_id} completed: {made}")
        self.work_order_id = start_work_order(
            api,
            self._plant.plant_id,
            line,
            quantity=WORK_ORDER_QUANTITY,
            due=now + timedelta(hours=SHIFT_HOURS),
        )
        self._print(f"work order {line.part_number} {self.work_order_id} released and started")

    def _oee(self, now: datetime) -> None:
        start, end = _first_whole_minute(self._started), _minute(now)
        if end <= start:
            return
        figures = self._api.get(
            "/v1/oee",
            line_id=self._line.line_id,
            start_time=_rfc3339(start),
            end_time=_rfc3339(end),
            breakdown="station",
        )
        zone = ZoneInfo(self._plant.time_zone)
        span = f"{start.astimezone(zone):%H:%M}-{end.astimezone(zone):%H:%M}"
        self._print(oee_line(f"OEE of the {LINE_KIND.line_name} line {span}", figures["total"]))
        names = {
            step.station_id: f"  {step.machine.name} ({operation(step)})"
            for step in self._line.steps
        }
        for part in figures["parts"]:
            self._print(
                oee_line(names.get(part["scope_id"], f"  station {part['scope_id']}"), part)
            )

    def _print(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)
