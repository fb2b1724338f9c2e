"""A plant's machines, stepped together at a fixed rate, reproducible by seed.

The same seed gives the same readings and the same faults, tick for tick: time
inside the simulation is the tick number over the rate, never the wall clock
(only the timestamps put on the readings come from ``start_ms``). A script of
states and faults (a breakdown at minute 2 ...) plays on that same clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from imcloud_simulator.faults import (
    CODES,
    DURATION_S,
    SENSOR_FAULTS,
    WEIGHT,
    Bools,
    Fault,
    FaultBook,
    FaultEvent,
    Floats,
)
from imcloud_simulator.machines import KINDS, MachineGroup
from imcloud_simulator.signals import MachineKind

# The kinds of a fleet of n machines: the first n of this cycle (by KINDS index),
# so three machines already show every kind.
MIX = (0, 1, 2, 0)


@dataclass(frozen=True)
class Machine:
    index: int
    kind: MachineKind
    number: int  # 1, 2, ... within its kind

    @property
    def name(self) -> str:
        return f"{self.kind.label} {self.number}"


@dataclass(frozen=True)
class Reading:
    """One tick of one kind's machines."""

    kind: MachineKind
    machines: range  # fleet indices
    values: Floats  # machines x signals
    reporting: Bools  # False for a machine in a dropout


@dataclass(frozen=True)
class StateChange:
    """At ``at_s`` of simulated time, ``machine`` is put in ``state`` (a run_state
    code other than running) for ``duration_s``; it runs afterwards."""

    at_s: float
    machine: int
    state: int
    duration_s: float


@dataclass(frozen=True)
class FaultInjection:
    """At ``at_s`` of simulated time, ``fault`` starts on ``machine``."""

    at_s: float
    machine: int
    fault: Fault
    duration_s: float
    severity: float = 1.0


Scripted = StateChange | FaultInjection


@dataclass(frozen=True)
class Tick:
    number: int
    timestamp_ms: int
    readings: tuple[Reading, ...]


class Fleet:
    def __init__(
        self,
        machines: int,
        *,
        seed: int | None = None,
        rate_hz: float = 1.0,
        start_ms: int = 0,
        fault_rate_per_hour: float = 4.0,
    ) -> None:
        if machines < 1 or rate_hz <= 0:
            raise ValueError("a fleet needs at least one machine and a positive rate")
        self.rate_hz = rate_hz
        self.dt = 1.0 / rate_hz
        self.start_ms = start_ms
        self.fault_rate_per_hour = fault_rate_per_hour
        self.tick = 0
        self.events: list[FaultEvent] = []
        self._script: list[Scripted] = []

        counts = Counter(MIX[i % len(MIX)] for i in range(machines))
        # A stream per kind, one for faults, then one per kind for the counts:
        # streams added at the end leave the earlier ones (and their readings) as
        # they were.
        streams = np.random.SeedSequence(seed).spawn(2 * len(KINDS) + 1)
        self._fault_rng = np.random.default_rng(streams[len(KINDS)])
        self.groups: list[tuple[MachineGroup, slice]] = []
        self.machines: list[Machine] = []
        for k, cls in enumerate(KINDS):
            if not counts[k]:
                continue
            start = len(self.machines)
            group = cls(
                counts[k],
                np.random.default_rng(streams[k]),
                counts_rng=np.random.default_rng(streams[len(KINDS) + 1 + k]),
            )
            self.groups.append((group, slice(start, start + counts[k])))
            self.machines += [Machine(start + j, cls.KIND, j + 1) for j in range(counts[k])]
        self.faults = FaultBook(machines)
        self._views = [self.faults.view(machines) for _, machines in self.groups]
        # For random faults: each machine's group, and the faults each group can suffer.
        self._group_of = np.concatenate(
            [np.full(m.stop - m.start, g) for g, (_, m) in enumerate(self.groups)]
        )

    @property
    def kinds(self) -> list[MachineKind]:
        return [group.KIND for group, _ in self.groups]

    def step(self) -> Tick:
        """Advances every machine by one period and returns their readings."""
        t = self.tick * self.dt
        self._play(t)
        self._inject_random()
        readings = []
        for (group, machines), faults in zip(self.groups, self._views, strict=True):
            values = group.step(t, self.dt, faults)
            reporting = faults.corrupt(values)
            readings.append(
                Reading(group.KIND, range(machines.start, machines.stop), values, reporting)
            )
        self.faults.advance(self.dt)
        tick = Tick(
            number=self.tick,
            timestamp_ms=self.start_ms + round(self.tick * 1000.0 / self.rate_hz),
            readings=tuple(readings),
        )
        self.tick += 1
        return tick

    def inject(
        self,
        machine: int,
        fault: Fault,
        *,
        duration_s: float | None = None,
        severity: float = 1.0,
        signal: str | None = None,
    ) -> FaultEvent:
        """Starts ``fault`` on a machine now (replacing its current fault)."""
        group, _ = self.groups[int(self._group_of[machine])]
        if fault not in (*group.FAULTS, *SENSOR_FAULTS):
            raise ValueError(f"a {group.KIND.label} cannot suffer {fault}")
        if duration_s is None:
            duration_s = float(np.mean(DURATION_S[fault]))
        column = -1
        if fault in (Fault.SENSOR_STUCK, Fault.NAN_BURST):
            column = group.double_signals[0] if signal is None else group.KIND.index(signal)
        self.faults.start(machine, fault, duration_s=duration_s, severity=severity, signal=column)
        event = FaultEvent(
            machine=machine,
            fault=fault,
            start_s=self.tick * self.dt,
            duration_s=duration_s,
            severity=severity,
            signal=group.KIND.signals[column].name if column >= 0 else None,
        )
        self.events.append(event)
        return event

    def hold(self, machine: int, state: int, duration_s: float) -> None:
        """Puts a machine in ``state`` (idle, setup, down or planned stop) from the
        next step on, for ``duration_s``; it runs afterwards."""
        group, local = self._locate(machine)
        group.duty.hold(local, state, duration_s)

    def play(self, script: Iterable[Scripted]) -> None:
        """Schedules state changes and faults; each happens at the first step at or
        after its time."""
        self._script = sorted([*self._script, *script], key=lambda event: event.at_s)

    def reset_counters(self, machine: int) -> None:
        """The machine's good and scrap totals start again from zero."""
        group, local = self._locate(machine)
        group.counter.reset(local)

    def ideal_cycle_s(self, machine: int) -> float:
        """The time the machine needs per unit at its ideal rate, what its station
        is registered with; it runs a little slower when healthy."""
        group, local = self._locate(machine)
        return float(group.counter.ideal_cycle_s[local])

    def active_faults(self) -> Counter[str]:
        """How many machines suffer each fault now."""
        codes = self.faults.code[self.faults.code != 0]
        return Counter(str(CODES[c]) for c in codes)

    def _locate(self, machine: int) -> tuple[MachineGroup, int]:
        group, machines = self.groups[int(self._group_of[machine])]
        return group, machine - machines.start

    def _play(self, t: float) -> None:
        while self._script and self._script[0].at_s <= t:
            event = self._script.pop(0)
            if isinstance(event, StateChange):
                self.hold(event.machine, event.state, event.duration_s)
            else:
                self.inject(
                    event.machine,
                    event.fault,
                    duration_s=event.duration_s,
                    severity=event.severity,
                )

    def _inject_random(self) -> None:
        if self.fault_rate_per_hour <= 0:
            return
        rng = self._fault_rng
        chance = self.fault_rate_per_hour / 3600.0 * self.dt
        struck = np.flatnonzero(self.faults.idle() & (rng.random(len(self.machines)) < chance))
        for machine in struck:
            group, _ = self.groups[int(self._group_of[machine])]
            options = (*group.FAULTS, *SENSOR_FAULTS)
            weights = np.array([WEIGHT[f] for f in options])
            fault = options[int(rng.choice(len(options), p=weights / weights.sum()))]
            low, high = DURATION_S[fault]
            column = int(rng.choice(group.double_signals))
            self.inject(
                int(machine),
                fault,
                duration_s=float(rng.uniform(low, high)),
                severity=float(rng.uniform(0.6, 1.0)),
                signal=group.KIND.signals[column].name,
            )
