"""Faults a simulated machine can suffer, and the book of who suffers which.

Physical faults change the machine (its physics reads them); sensor faults
change only what is reported. One fault at a time per machine; a fault ends
after its duration (the maintenance team fixed it, the sensor came back).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


class Fault(StrEnum):
    # physical
    BEARING_WEAR = "bearing_wear"  # vibration and bearing heat grow over the fault
    COOLANT_LOSS = "coolant_loss"  # CNC: coolant flow collapses, the spindle runs hot
    LEAK = "leak"  # pump: pressure falls, flow rises; press: force falls, oil level sinks
    # sensor and link
    SENSOR_STUCK = "sensor_stuck"  # one signal repeats its last value
    NAN_BURST = "nan_burst"  # one signal reports NaN (refused by the platform)
    DROPOUT = "dropout"  # the machine reports nothing


SENSOR_FAULTS = (Fault.SENSOR_STUCK, Fault.NAN_BURST, Fault.DROPOUT)
CODES: tuple[Fault | None, ...] = (None, *Fault)
CODE = {fault: code for code, fault in enumerate(CODES) if fault is not None}
# Shortest and longest duration, seconds of simulated time.
DURATION_S = {
    Fault.BEARING_WEAR: (600.0, 1800.0),
    Fault.COOLANT_LOSS: (180.0, 480.0),
    Fault.LEAK: (300.0, 900.0),
    Fault.SENSOR_STUCK: (30.0, 120.0),
    Fault.NAN_BURST: (2.0, 8.0),
    Fault.DROPOUT: (5.0, 30.0),
}
# How often each fault is drawn relative to the others.
WEIGHT = {
    Fault.BEARING_WEAR: 1.0,
    Fault.COOLANT_LOSS: 1.0,
    Fault.LEAK: 1.0,
    Fault.SENSOR_STUCK: 1.0,
    Fault.NAN_BURST: 2.0,
    Fault.DROPOUT: 1.0,
}


@dataclass(frozen=True)
class FaultEvent:
    """A fault that started: on which machine, when (simulated seconds), for how long."""

    machine: int
    fault: Fault
    start_s: float
    duration_s: float
    severity: float
    signal: str | None = None


class FaultBook:
    """The current fault of each machine, as arrays (a slice is one kind's view)."""

    def __init__(self, count: int) -> None:
        self.code = np.zeros(count, dtype=np.int8)
        self.elapsed = np.zeros(count)
        self.duration = np.zeros(count)
        self.severity = np.zeros(count)
        # The signal a sensor fault affects (column in its kind's values), and a
        # stuck sensor's frozen value (NaN until first reported).
        self.signal = np.full(count, -1, dtype=np.int64)
        self.held = np.full(count, np.nan)

    def view(self, machines: slice) -> FaultBook:
        view = FaultBook.__new__(FaultBook)
        for name in ("code", "elapsed", "duration", "severity", "signal", "held"):
            setattr(view, name, getattr(self, name)[machines])
        return view

    def active(self, fault: Fault) -> Bools:
        active: Bools = self.code == CODE[fault]
        return active

    def idle(self) -> Bools:
        idle: Bools = self.code == 0
        return idle

    def start(
        self, machine: int, fault: Fault, *, duration_s: float, severity: float, signal: int
    ) -> None:
        self.code[machine] = CODE[fault]
        self.elapsed[machine] = 0.0
        self.duration[machine] = duration_s
        self.severity[machine] = severity
        self.signal[machine] = signal
        self.held[machine] = np.nan

    def advance(self, dt: float) -> None:
        running = self.code != 0
        self.elapsed[running] += dt
        self.code[running & (self.elapsed >= self.duration)] = 0

    def wear(self) -> Floats:
        """Bearing wear, 0 (healthy) to severity (1: worn out), growing over the fault."""
        growth = np.clip(self.elapsed / np.maximum(0.8 * self.duration, 1e-9), 0.0, 1.0)
        return np.where(self.active(Fault.BEARING_WEAR), self.severity * growth, 0.0)

    def level(self, fault: Fault) -> Floats:
        """The severity of ``fault`` where it is active, else 0."""
        return np.where(self.active(fault), self.severity, 0.0)

    def corrupt(self, values: Floats) -> Bools:
        """Applies stuck sensors and NaN bursts to ``values`` (machines x signals) in
        place; returns which machines report at all (False during a dropout)."""
        stuck = np.flatnonzero(self.active(Fault.SENSOR_STUCK))
        if stuck.size:
            columns = self.signal[stuck]
            fresh = np.isnan(self.held[stuck])
            self.held[stuck[fresh]] = values[stuck[fresh], columns[fresh]]
            values[stuck, columns] = self.held[stuck]
        burst = np.flatnonzero(self.active(Fault.NAN_BURST))
        if burst.size:
            values[burst, self.signal[burst]] = np.nan
        reporting: Bools = ~self.active(Fault.DROPOUT)
        return reporting
