"""`imcloud simulate`: onboard a simulated plant through the REST API and stream
its machines' telemetry over the device link, with live progress."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live

from imcloud_simulator.detection import Detection, ask_platform
from imcloud_simulator.display import (
    LiveView,
    ProgressLines,
    detection_report,
    onboarding_line,
    progress_line,
    scoring_line,
    summary,
)
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.onboarding import (
    OnboardedPlant,
    OnboardingError,
    OnboardingStep,
    PlatformApi,
    onboard_plant,
)
from imcloud_simulator.production import PlantProduction, onboard_production
from imcloud_simulator.runner import FleetRunner, Progress, Stage

API_KEY_VARIABLE = "IMCLOUD_API_KEY"
# Good units each line's work order asks for (--production).
WORK_ORDER_QUANTITY = 100.0
# Rich lays out for 80 columns where no terminal tells the width; a log has room.
PIPED_WIDTH = 120


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api",
        metavar="URL",
        help="the REST API (default: this machine's imcloud, from IMCLOUD_GATEWAY__HTTP_*)",
    )
    parser.add_argument(
        "--device-link",
        metavar="HOST:PORT",
        help="the device link (default: IMCLOUD_GATEWAY_GRPC__TARGET, 127.0.0.1:50050)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_VARIABLE),
        help=f"an admin API key of the tenant to fill (or set {API_KEY_VARIABLE}); "
        "without one, a new demo tenant signs up",
    )
    parser.add_argument(
        "--machines", type=_positive(int), default=50, help="machines to simulate (default: 50)"
    )
    parser.add_argument(
        "--rate-hz",
        type=_positive(float),
        default=1.0,
        help="readings per machine and second (default: 1)",
    )
    parser.add_argument(
        "--duration",
        type=_positive(float, zero=True),
        default=60.0,
        help="seconds to run; 0 runs until Ctrl-C (default: 60)",
    )
    parser.add_argument("--seed", type=int, help="repeat a run: same machines, same faults")
    parser.add_argument(
        "--batch-points",
        type=_positive(int),
        default=1000,
        help="most points in one batch (default: 1000)",
    )
    parser.add_argument(
        "--flush-interval",
        type=_positive(float),
        default=1.0,
        help="seconds a reading may wait for its batch (default: 1)",
    )
    parser.add_argument(
        "--fault-rate",
        type=_positive(float, zero=True),
        default=4.0,
        help="faults per machine and hour of running (default: 4; 0: none)",
    )
    parser.add_argument(
        "--detection-wait",
        type=_positive(float, zero=True),
        default=15.0,
        metavar="SECONDS",
        help="at the end, wait at most this long for the platform to score the last "
        "batches before asking what it detected (default: 15)",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="also set the plant up for production: station capabilities and cycle times, "
        "state mappings, a shift calendar from this hour, a product and a started work "
        "order per line, so GET /v1/oee has figures",
    )
    parser.add_argument(
        "--summary-json", type=Path, metavar="PATH", help="also write the summary here"
    )


def _positive(kind: type[int] | type[float], *, zero: bool = False) -> Any:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'>= 0' if zero else '> 0'}, not {text}")
        return value

    return parse


def quiet_client_logs() -> None:
    """Every request at INFO (httpx) and every reconnect (SDK) would bury the display."""
    for name in ("httpx", "imcloud_device"):
        logging.getLogger(name).setLevel(logging.WARNING)


def simulate(args: argparse.Namespace, *, local_api: str, local_device_link: str) -> int:
    """Runs `imcloud simulate`; ``local_*`` are this machine's platform, the defaults."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    api_url = args.api or local_api
    device_link = args.device_link or local_device_link
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    fleet = Fleet(
        args.machines, seed=seed, rate_hz=args.rate_hz, fault_rate_per_hour=args.fault_rate
    )
    run_id = secrets.token_hex(3)
    quiet_client_logs()
    started = time.monotonic()
    try:
        with ProgressLines(
            console, f"onboarding {args.machines} machines at {api_url} ..."
        ) as lines:

            def show(step: OnboardingStep) -> None:
                text = onboarding_line(step, time.monotonic() - started)
                lines.update(text, milestone=step.done == step.total)

            plant = onboard_plant(
                api_url,
                fleet,
                run_id=run_id,
                tenant_name=f"Simulated plant {run_id}",
                api_key=args.api_key,
                progress=show,
            )
    except OnboardingError as exc:
        console.print(f"[red]imcloud simulate: onboarding failed: {exc}[/red]")
        return 1
    kinds = ", ".join(
        f"{sum(m.kind == kind for m in fleet.machines)} x {kind.label}" for kind in fleet.kinds
    )
    console.print(
        f"plant {plant.plant_id} onboarded: {kinds}; seed {seed} (--seed {seed} repeats this run)",
        soft_wrap=True,
    )
    if not args.api_key:
        console.print(
            f"demo tenant {plant.tenant_id}, owner API key: [bold]{plant.api_key}[/bold]",
            soft_wrap=True,
        )
    if args.production:
        try:
            production = _set_up_production(console, api_url, fleet, plant, run_id=run_id)
        except OnboardingError as exc:
            console.print(f"[red]imcloud simulate: production setup failed: {exc}[/red]")
            return 1
        for line in production.lines:
            console.print(
                f"line {line.line_id} makes {line.part_number}, work order "
                f"{production.work_orders[line.line_id]}; its OEE: GET {api_url}/v1/oee"
                f"?line_id={line.line_id}&start_time=...&end_time=...&breakdown=station",
                soft_wrap=True,
                highlight=False,
            )
    runner = FleetRunner(
        fleet,
        plant,
        device_link=device_link,
        batch_points=args.batch_points,
        flush_interval_s=args.flush_interval,
    )
    stop = threading.Event()
    with _stop_on_signals(stop):
        _stream(
            console,
            runner,
            stop,
            title=f"imcloud simulate: {len(fleet.machines)} machines at {args.rate_hz:g} Hz "
            f"-> {device_link}",
            duration_s=args.duration,
        )
    console.print()
    console.print(
        summary(runner.totals_by_kind(), faults=fleet.events, cpu=runner.cpu, ticks=runner.ticks)
    )
    detection = _ask_what_was_detected(console, api_url, runner, wait_s=args.detection_wait)
    if args.summary_json:
        document = _summary_document(runner, seed, detection)
        args.summary_json.write_text(json.dumps(document, indent=2) + "\n")
    failed = sum(s.fatal_error is not None for s in runner.stats())
    if failed:
        console.print(f"[red]{failed} machines were stopped by an error (see above)[/red]")
    return 1 if failed else 0


def _set_up_production(
    console: Console, api_url: str, fleet: Fleet, plant: OnboardedPlant, *, run_id: str
) -> PlantProduction:
    started = time.monotonic()
    api = PlatformApi(api_url, plant.api_key)
    try:
        with ProgressLines(console, "setting the plant up for production ...") as lines:

            def show(step: OnboardingStep) -> None:
                text = onboarding_line(step, time.monotonic() - started)
                lines.update(text, milestone=step.done == step.total)

            return onboard_production(
                api,
                fleet,
                plant,
                run_id=run_id,
                now=datetime.now(UTC),
                quantity=WORK_ORDER_QUANTITY,
                progress=show,
            )
    finally:
        api.close()


def _stream(
    console: Console, runner: FleetRunner, stop: threading.Event, *, title: str, duration_s: float
) -> None:
    """Runs the fleet with a live panel on a terminal, or progress lines elsewhere."""
    if console.is_terminal:
        view = LiveView(title=title, duration_s=duration_s)
        with Live(console=console, refresh_per_second=4) as live:
            runner.run(stop, duration_s=duration_s, report=lambda p: live.update(view.render(p)))
        return
    with ProgressLines(console, title) as lines:

        def show(progress: Progress) -> None:
            text = progress_line(progress, duration_s=duration_s)
            lines.update(text, milestone=progress.stage is not Stage.RUNNING)

        runner.run(stop, duration_s=duration_s, report=show)


def _ask_what_was_detected(
    console: Console, api_url: str, runner: FleetRunner, *, wait_s: float
) -> Detection | None:
    """Prints what the platform detected next to the faults injected; None if
    the platform could not be asked (the run itself still counts)."""
    api = PlatformApi(api_url, runner.plant.api_key)
    skip = threading.Event()
    console.print()
    try:
        with (
            _stop_on_signals(skip),
            ProgressLines(
                console,
                f"asking the platform what it detected, once it scored the last batches "
                f"(waiting at most {wait_s:g} s; Ctrl-C stops waiting) ...",
            ) as lines,
        ):
            detection = ask_platform(
                api,
                runner.plant,
                runner.last_delivered_ms(),
                wait_s=wait_s,
                skip=skip,
                report=lambda scoring: lines.update(
                    scoring_line(scoring, wait_s=wait_s),
                    milestone=scoring.scored == scoring.expected,
                ),
            )
    except OnboardingError as exc:
        console.print(f"[yellow]could not ask the platform what it detected: {exc}[/yellow]")
        return None
    finally:
        api.close()
    console.print(
        detection_report(
            runner.plant,
            runner.fleet.events,
            detection,
            start_ms=runner.fleet.start_ms,
            wait_s=wait_s,
        )
    )
    return detection


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _summary_document(
    runner: FleetRunner, seed: int, detection: Detection | None
) -> dict[str, Any]:
    plant = runner.plant
    by_machine = {m.machine.index: m for m in plant.machines}
    found = detection.by_equipment if detection else {}
    return {
        "tenant_id": plant.tenant_id,
        "plant_id": plant.plant_id,
        "seed": seed,
        "rate_hz": runner.fleet.rate_hz,
        "start_ms": runner.fleet.start_ms,
        "ticks": runner.ticks,
        "cpu_s": round(runner.cpu.cpu_s, 3),
        "wall_s": round(runner.cpu.wall_s, 3),
        "machines": [
            {
                "equipment_id": onboarded.equipment_id,
                "kind": onboarded.machine.kind.key,
                "name": onboarded.machine.name,
                "serial_number": onboarded.serial_number,
                "points_recorded": stats.points_recorded,
                "points_accepted": stats.points_accepted,
                "points_flagged": stats.points_flagged,
                "points_refused": stats.points_refused,
                "refused_by_reason": dict(stats.refused_by_reason),
                "points_dropped": stats.points_dropped,
                "points_unsent": stats.points_buffered,
                "fatal_error": stats.fatal_error,
                # null when the platform could not be asked
                "detected": asdict(found[onboarded.equipment_id])
                if onboarded.equipment_id in found
                else None,
            }
            for onboarded, stats in zip(plant.machines, runner.stats(), strict=True)
        ],
        "faults": [
            {
                "equipment_id": by_machine[event.machine].equipment_id,
                "fault": str(event.fault),
                "start_s": event.start_s,
                "duration_s": round(event.duration_s, 1),
                "severity": round(event.severity, 2),
                "signal": event.signal,
            }
            for event in runner.fleet.events
        ],
        "scoring": {
            "scored": detection.scoring.scored,
            "expected": detection.scoring.expected,
            "waited_s": round(detection.scoring.elapsed_s, 3),
        }
        if detection
        else None,
    }
