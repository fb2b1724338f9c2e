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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live

from imcloud_simulator.display import LiveView, summary
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.onboarding import (
    OnboardingError,
    onboard_plant,
)
from imcloud_simulator.runner import FleetRunner

API_KEY_VARIABLE = "IMCLOUD_API_KEY"


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
    api_url = args.api or local_api
    device_link = args.device_link or local_device_link
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    fleet = Fleet(
        args.machines, seed=seed, rate_hz=args.rate_hz, fault_rate_per_hour=args.fault_rate
    )
    run_id = secrets.token_hex(3)
    quiet_client_logs()
    try:
        with console.status(f"onboarding {args.machines} machines at {api_url} ..."):
            plant = onboard_plant(
                api_url,
                fleet,
                run_id=run_id,
                tenant_name=f"Simulated plant {run_id}",
                api_key=args.api_key,
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
    runner = FleetRunner(
        fleet,
        plant,
        device_link=device_link,
        batch_points=args.batch_points,
        flush_interval_s=args.flush_interval,
    )
    view = LiveView(
        title=f"imcloud simulate: {len(fleet.machines)} machines at {args.rate_hz:g} Hz "
        f"-> {device_link}",
        duration_s=args.duration,
    )
    stop = threading.Event()
    with _stop_on_signals(stop), Live(console=console, refresh_per_second=4) as live:
        runner.run(
            stop,
            duration_s=args.duration,
            report=lambda progress: live.update(view.render(progress)),
        )
    console.print()
    console.print(
        summary(runner.totals_by_kind(), faults=fleet.events, cpu=runner.cpu, ticks=runner.ticks)
    )
    if args.summary_json:
        args.summary_json.write_text(json.dumps(_summary_document(runner, seed), indent=2) + "\n")
    failed = sum(s.fatal_error is not None for s in runner.stats())
    if failed:
        console.print(f"[red]{failed} machines were stopped by an error (see above)[/red]")
    return 1 if failed else 0


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


def _summary_document(runner: FleetRunner, seed: int) -> dict[str, Any]:
    plant = runner.plant
    by_machine = {m.machine.index: m for m in plant.machines}
    return {
        "tenant_id": plant.tenant_id,
        "plant_id": plant.plant_id,
        "seed": seed,
        "rate_hz": runner.fleet.rate_hz,
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
    }
