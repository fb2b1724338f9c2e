"""Runs a fleet against the platform: one DeviceClient per machine, fed at the
fleet's rate, with totals that a live display and the final summary read."""

from __future__ import annotations

import resource
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum

from imcloud_device import DeviceClient, DeviceStats
from imcloud_simulator.fleet import Fleet, Tick
from imcloud_simulator.onboarding import OnboardedPlant
from imcloud_simulator.remote import CommandDesk

# How often the totals are handed to the display.
REPORT_EVERY_S = 0.5


@dataclass(frozen=True)
class Totals:
    """The sum of some machines' client stats."""

    machines: int = 0
    connected: int = 0
    # Stopped by a fatal error, e.g. a revoked credential.
    failed: int = 0
    recorded: int = 0
    sent: int = 0
    accepted: int = 0
    flagged: int = 0
    refused: int = 0
    dropped: int = 0
    buffered: int = 0
    reconnects: int = 0
    refused_by_reason: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, stats: list[DeviceStats]) -> Totals:
        return cls.combine([cls.one(s) for s in stats])

    @classmethod
    def one(cls, s: DeviceStats) -> Totals:
        return cls(
            machines=1,
            connected=int(s.connected),
            failed=int(s.fatal_error is not None),
            recorded=s.points_recorded,
            sent=s.points_sent,
            accepted=s.points_accepted,
            flagged=s.points_flagged,
            refused=s.points_refused,
            dropped=s.points_dropped,
            buffered=s.points_buffered,
            reconnects=s.reconnects,
            refused_by_reason=dict(s.refused_by_reason),
        )

    @classmethod
    def combine(cls, parts: list[Totals]) -> Totals:
        reasons: Counter[str] = Counter()
        for part in parts:
            reasons.update(part.refused_by_reason)
        counts = {
            f.name: sum(getattr(t, f.name) for t in parts)
            for f in fields(cls)
            if f.name != "refused_by_reason"
        }
        return cls(**counts, refused_by_reason=dict(reasons))


class Stage(StrEnum):
    RUNNING = "running"
    # The readings are made; the clients deliver what they still hold.
    DELIVERING = "delivering"
    # The clients are closed: the totals are final, the ones the summary shows.
    DONE = "done"


@dataclass(frozen=True)
class Progress:
    stage: Stage
    elapsed_s: float
    ticks: int
    totals: Totals
    active_faults: Counter[str]


@dataclass(frozen=True)
class CpuUse:
    cpu_s: float
    wall_s: float

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


class FleetRunner:
    def __init__(
        self,
        fleet: Fleet,
        plant: OnboardedPlant,
        *,
        device_link: str,
        batch_points: int = 1000,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.fleet = fleet
        self.plant = plant
        self.commands = CommandDesk()
        self.clients = [
            DeviceClient(
                device_link,
                machine.credential,
                max_batch_points=batch_points,
                flush_interval_s=flush_interval_s,
                on_command=self.commands.handler(index),
            )
            for index, machine in enumerate(plant.machines)
        ]
        self.ticks = 0
        self.cpu = CpuUse(0.0, 0.0)
        # Per machine, the timestamp of its last reading (None: it reported nothing).
        self.last_recorded_ms: list[int | None] = [None] * len(self.clients)

    def run(
        self,
        stop: threading.Event,
        *,
        duration_s: float = 0.0,
        close_timeout_s: float = 10.0,
        report: Callable[[Progress], None] = lambda progress: None,
    ) -> None:
        """Feeds the clients tick by tick until ``stop`` is set or ``duration_s``
        (0: no limit) of readings were made; then gives them ``close_timeout_s``
        to deliver what they hold and closes them. The last report comes after
        the clients closed, so it carries the final totals."""
        cpu_start, wall_start = _cpu_s(), time.monotonic()
        self.fleet.start_ms = time.time_ns() // 1_000_000
        for client in self.clients:
            client.start()
        period = self.fleet.dt
        limit = round(duration_s * self.fleet.rate_hz) if duration_s > 0 else None
        started = time.monotonic()
        next_report = started
        try:
            while not stop.is_set() and (limit is None or self.ticks < limit):
                self.commands.apply(self.fleet)
                self._record(self.fleet.step())
                self.ticks += 1
                now = time.monotonic()
                if now >= next_report:
                    report(self.progress(Stage.RUNNING, now - started))
                    next_report = now + REPORT_EVERY_S
                stop.wait(max(0.0, started + self.ticks * period - time.monotonic()))
        finally:
            report(self.progress(Stage.DELIVERING, time.monotonic() - started))
            self.close(close_timeout_s)
            self.cpu = CpuUse(_cpu_s() - cpu_start, time.monotonic() - wall_start)
            report(self.progress(Stage.DONE, time.monotonic() - started))

    def close(self, timeout_s: float) -> None:
        """Gives the clients ``timeout_s`` together to deliver what they hold."""
        deadline = time.monotonic() + timeout_s
        for client in self.clients:
            if timeout_s > 0 and not client.stopped:
                client.flush(max(0.0, deadline - time.monotonic()))
        for client in self.clients:
            client.close(0)

    def _record(self, tick: Tick) -> None:
        clients = self.clients
        for reading in tick.readings:
            names = reading.kind.signal_names
            reporting = reading.reporting.tolist()
            for row, machine, reports in zip(
                reading.values.tolist(), reading.machines, reporting, strict=True
            ):
                if reports:
                    clients[machine].record_snapshot(
                        dict(zip(names, row, strict=True)), tick.timestamp_ms
                    )
                    self.last_recorded_ms[machine] = tick.timestamp_ms

    def last_delivered_ms(self) -> dict[str, int]:
        """By equipment id, the timestamp of the machine's last reading, for the
        machines that delivered everything they recorded."""
        return {
            onboarded.equipment_id: last_ms
            for onboarded, last_ms, stats in zip(
                self.plant.machines, self.last_recorded_ms, self.stats(), strict=True
            )
            if last_ms is not None and stats.points_buffered == 0
        }

    def stats(self) -> list[DeviceStats]:
        return [client.stats() for client in self.clients]

    def progress(self, stage: Stage, elapsed_s: float) -> Progress:
        return Progress(
            stage=stage,
            elapsed_s=elapsed_s,
            ticks=self.ticks,
            totals=Totals.of(self.stats()),
            active_faults=self.fleet.active_faults(),
        )

    def totals_by_kind(self) -> dict[str, Totals]:
        stats = self.stats()
        by_kind: dict[str, list[DeviceStats]] = {}
        for onboarded, s in zip(self.plant.machines, stats, strict=True):
            by_kind.setdefault(onboarded.machine.kind.label, []).append(s)
        return {label: Totals.of(group) for label, group in by_kind.items()}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
