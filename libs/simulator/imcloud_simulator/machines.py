"""The machine kinds and their physics, vectorised over all machines of a kind.

Each step advances every machine of a kind by ``dt`` seconds of simulated time
with a few dozen numpy operations, whatever the number of machines. The
physics is simple but keeps the relations people look for in real data:

- a duty cycle (idle, running, setup) drives everything; a stop put on a
  machine (a breakdown, a planned stop) idles it, and it runs again after;
- good and scrap units are counted per cycle while a machine runs (counters);
- electrical current follows mechanical load; power follows load and speed;
- temperatures follow heat input through a first-order lag (minutes);
- pump flow and pressure sit where the pump curve meets the system curve;
- press force and hydraulic pressure are one through the cylinder area;
- vibration grows with speed squared, imbalance and bearing wear;
- ambient temperature drifts over the day, temperature sensors drift slowly;
- every reading carries sensor noise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from imcloud_simulator.counters import PartCounter
from imcloud_simulator.faults import Bools, Fault, FaultBook, Floats
from imcloud_simulator.signals import MachineKind, Signal

# The run_state codes every kind reports.
IDLE, RUNNING, SETUP, DOWN, PLANNED_STOP = 0, 1, 2, 3, 4
# States that only a stop put on a machine gives: its physics are idle's.
STOPS = (DOWN, PLANNED_STOP)
# Coming back to running from these restarts the process (start-up rejects).
RESTARTS_FROM = (SETUP, DOWN, PLANNED_STOP)
DAY_S = 86_400.0
MANUFACTURER = "imcloud simulated machines"
STATE_DESCRIPTION = (
    "0 idle, 1 running, 2 setup or maintenance, 3 down (stopped by a fault), 4 planned stop"
)
Ints = npt.NDArray[np.int64]


def state_signal() -> Signal:
    return Signal("run_state", "", "integer", IDLE, PLANNED_STOP, STATE_DESCRIPTION)


def count_signals() -> tuple[Signal, Signal]:
    return (
        Signal("good_count", "", "integer", 0, None, "Good units made (a total)"),
        Signal("scrap_count", "", "integer", 0, None, "Units scrapped (a total)"),
    )


def lag(current: Floats, target: Floats, dt: float, tau_s: Floats | float) -> Floats:
    """One step of a first-order lag (time constant ``tau_s``) towards ``target``."""
    result: Floats = current + (target - current) * (1.0 - np.exp(-dt / tau_s))
    return result


def power_to_current(kw: Floats, volts: float = 400.0, power_factor: float = 0.85) -> Floats:
    """Line current of a three-phase motor drawing ``kw``."""
    amps: Floats = kw * 1000.0 / (np.sqrt(3.0) * volts * power_factor)
    return amps


class DutyCycle:
    """Each machine's state (idle, running, setup) with random dwell times, and
    states put on a machine for a while (a breakdown, a setup), after which it runs."""

    def __init__(
        self,
        count: int,
        rng: np.random.Generator,
        *,
        dwell_s: dict[int, tuple[float, float]],
        transitions: list[list[float]],
    ) -> None:
        self._rng = rng
        self._dwell_lo = np.array([dwell_s[s][0] for s in (IDLE, RUNNING, SETUP)])
        self._dwell_hi = np.array([dwell_s[s][1] for s in (IDLE, RUNNING, SETUP)])
        self._cumulative = np.cumsum(np.array(transitions), axis=1)
        self.state = rng.choice([IDLE, RUNNING], size=count, p=[0.25, 0.75])
        self.remaining = rng.uniform(0.0, self._dwell_hi[self.state])
        self.elapsed = rng.uniform(0.0, 30.0, count)
        self.previous = self.state.copy()
        # DOWN or PLANNED_STOP while a stop is put on the machine, else 0.
        self.stop = np.zeros(count, dtype=np.int64)
        self.held = np.zeros(count, dtype=bool)
        self.previous_reported = self.reported
        self._holds: dict[int, tuple[int, float]] = {}

    @property
    def reported(self) -> Ints:
        """The run_state of each machine."""
        reported: Ints = np.where(self.stop != 0, self.stop, self.state)
        return reported

    def hold(self, machine: int, state: int, duration_s: float) -> None:
        """Puts ``machine`` in ``state`` for ``duration_s`` from the next step on;
        it runs afterwards."""
        if state not in (IDLE, SETUP, *STOPS):
            raise ValueError(f"a machine cannot be held in state {state}")
        self._holds[machine] = (state, duration_s)

    def step(self, dt: float) -> Bools:
        """Advances the clock; returns which machines changed state in this step."""
        self.previous = self.state.copy()
        self.previous_reported = self.reported
        self.remaining -= dt
        self.elapsed += dt
        due: Bools = self.remaining <= 0
        if due.any():
            rows = np.flatnonzero(due)
            draw = self._rng.random(rows.size)
            new = (draw[:, None] > self._cumulative[self.state[rows]]).sum(axis=1)
            new = np.where(self.held[rows], RUNNING, np.minimum(new, SETUP))
            self.state[rows] = new
            self.remaining[rows] = self._rng.uniform(self._dwell_lo[new], self._dwell_hi[new])
            self.elapsed[rows] = 0.0
            self.stop[rows] = 0
            self.held[rows] = False
        if self._holds:
            due = due | self._start_holds()
        return due

    def _start_holds(self) -> Bools:
        started = np.zeros(self.state.size, dtype=bool)
        for machine, (state, duration_s) in self._holds.items():
            self.state[machine] = IDLE if state in STOPS else state
            self.stop[machine] = state if state in STOPS else 0
            self.remaining[machine] = duration_s
            self.elapsed[machine] = 0.0
            self.held[machine] = True
            started[machine] = True
        self._holds.clear()
        return started


class MachineGroup(ABC):
    """All machines of one kind, stepped together."""

    KIND: ClassVar[MachineKind]
    # The physical faults this kind can suffer (sensor faults apply to every kind).
    FAULTS: ClassVar[tuple[Fault, ...]]
    # Range of the machines' mean cycle per unit when healthy, and of their usual
    # scrap rate.
    CYCLE_S: ClassVar[tuple[float, float]]
    SCRAP_RATE: ClassVar[tuple[float, float]] = (0.01, 0.03)

    duty: DutyCycle

    def __init__(
        self, count: int, rng: np.random.Generator, *, counts_rng: np.random.Generator
    ) -> None:
        self.count = count
        self.rng = rng
        self.ambient_offset = rng.normal(0.0, 1.0, count)
        self.ambient_phase = rng.uniform(-0.3, 0.3, count)
        self.sensor_drift = np.zeros(count)
        # The counts draw from their own generator, so that the other signals of
        # a seed are what they were before machines counted.
        self.counter = PartCounter(
            count, counts_rng, cycle_s=self.CYCLE_S, scrap_rate=self.SCRAP_RATE
        )

    @property
    def double_signals(self) -> tuple[int, ...]:
        """Columns of the double signals, the ones sensor faults pick from."""
        return tuple(i for i, s in enumerate(self.KIND.signals) if s.type == "double")

    def ambient(self, t: float) -> Floats:
        """Hall temperature: 21 C, +-2.5 C over the day, a little different per machine."""
        day = np.sin(2.0 * np.pi * t / DAY_S + self.ambient_phase)
        result: Floats = 21.0 + 2.5 * day + self.ambient_offset
        return result

    def drift(self, dt: float) -> Floats:
        """A slow random walk of the temperature sensors' offsets, bounded to +-0.5 C."""
        step = self.rng.normal(0.0, 0.003 * np.sqrt(dt), self.count)
        self.sensor_drift = np.clip(self.sensor_drift + step, -0.5, 0.5)
        return self.sensor_drift

    def noise(self, sigma: float) -> Floats:
        return self.rng.normal(0.0, sigma, self.count)

    def degradation(self, faults: FaultBook) -> Floats:
        """How much a physical fault degrades each machine: 0 healthy, 1 at worst."""
        levels = [
            faults.wear() if fault is Fault.BEARING_WEAR else faults.level(fault)
            for fault in self.FAULTS
        ]
        total: Floats = np.sum(levels, axis=0)
        return total

    def counts(self, dt: float, faults: FaultBook) -> tuple[Floats, Floats]:
        """Advances the counters by ``dt`` (call after the duty cycle's step);
        returns each machine's good and scrap totals."""
        duty = self.duty
        running = duty.state == RUNNING
        restarted = running & np.isin(duty.previous_reported, RESTARTS_FROM)
        self.counter.step(
            dt, running=running, restarted=restarted, degradation=self.degradation(faults)
        )
        return self.counter.good, self.counter.scrap

    @abstractmethod
    def step(self, t: float, dt: float, faults: FaultBook) -> Floats:
        """Advances every machine by ``dt`` seconds and returns a reading per
        machine and signal (machines x signals, in the order of KIND.signals)."""


# -- CNC machining centre --------------------------------------------------------


class CncMill(MachineGroup):
    KIND = MachineKind(
        key="cnc_mill",
        label="CNC mill",
        model_name="VMC-850 vertical machining centre (simulated)",
        manufacturer=MANUFACTURER,
        line_name="Machining",
        serial_prefix="VMC",
        signals=(
            state_signal(),
            Signal("spindle_speed", "1/min", "double", 0, 24000, "Spindle speed"),
            Signal("feed_rate", "mm/min", "double", 0, 15000, "Path feed rate"),
            Signal("spindle_load", "%", "double", 0, 150, "Spindle torque, % of rated"),
            Signal("spindle_current", "A", "double", 0, 60, "Spindle motor current"),
            Signal("spindle_power", "kW", "double", 0, 30, "Spindle motor power"),
            Signal("spindle_temperature", "Cel", "double", 0, 85, "Spindle bearing housing"),
            Signal("coolant_flow", "L/min", "double", 0, 40, "Flood coolant flow"),
            Signal("coolant_temperature", "Cel", "double", 0, 45, "Coolant tank temperature"),
            Signal("vibration_rms", "mm/s", "double", 0, 11.2, "Spindle vibration velocity"),
            Signal("tool_wear", "%", "double", 0, 100, "Estimated wear of the tool in use"),
            Signal("part_count", "", "integer", 0, None, "Parts machined"),
            Signal("door_open", "", "boolean", None, None, "Operator door open"),
            *count_signals(),
        ),
    )
    FAULTS = (Fault.BEARING_WEAR, Fault.COOLANT_LOSS)
    CYCLE_S = (25.0, 45.0)

    def __init__(
        self, count: int, rng: np.random.Generator, *, counts_rng: np.random.Generator
    ) -> None:
        super().__init__(count, rng, counts_rng=counts_rng)
        self.duty = DutyCycle(
            count,
            rng,
            dwell_s={IDLE: (10.0, 60.0), RUNNING: (60.0, 300.0), SETUP: (120.0, 480.0)},
            transitions=[[0.0, 0.9, 0.1], [0.95, 0.0, 0.05], [0.2, 0.8, 0.0]],
        )
        self.rated_kw = rng.uniform(11.0, 18.0, count)
        self.imbalance = rng.uniform(0.8, 1.25, count)
        self.thermal_tau = rng.uniform(500.0, 800.0, count)
        self.program_speed = rng.uniform(4000.0, 18000.0, count)
        self.engagement = rng.uniform(0.25, 0.8, count)
        self.segment_left = rng.uniform(0.0, 60.0, count)
        self.cutting = np.ones(count, dtype=bool)
        self.speed = np.where(self.duty.state == RUNNING, self.program_speed, 0.0)
        self.coolant = np.where(self.duty.state == RUNNING, 24.0, 0.0)
        ambient = self.ambient(0.0)
        self.spindle_temp = ambient + rng.uniform(5.0, 15.0, count)
        self.coolant_temp = ambient + rng.uniform(1.0, 4.0, count)
        self.tool_wear = rng.uniform(0.0, 60.0, count)
        self.parts = rng.integers(1000, 50_000, count).astype(np.float64)

    def step(self, t: float, dt: float, faults: FaultBook) -> Floats:
        changed = self.duty.step(dt)
        state, n = self.duty.state, self.count
        running, setup, idle = state == RUNNING, state == SETUP, state == IDLE
        self.parts += changed & (self.duty.previous == RUNNING)  # a run is one part
        fresh_tool = changed & setup
        self.tool_wear[fresh_tool] = self.rng.uniform(0.0, 2.0, int(fresh_tool.sum()))

        # The program: a new operation (speed, depth of cut) every 10-60 s.
        self.segment_left -= dt
        new_segment = self.segment_left <= 0
        if new_segment.any():
            k = int(new_segment.sum())
            self.program_speed[new_segment] = self.rng.uniform(4000.0, 18000.0, k)
            self.engagement[new_segment] = self.rng.uniform(0.25, 0.8, k)
            self.segment_left[new_segment] = self.rng.uniform(10.0, 60.0, k)
        # Cutting or moving between features: ~8 s cuts, ~1.5 s air moves.
        flip = self.rng.random(n) < np.where(self.cutting, dt / 8.0, dt / 1.5)
        self.cutting ^= flip
        cutting = running & self.cutting

        self.speed = lag(self.speed, np.where(running, self.program_speed, 0.0), dt, 0.8)
        turning = self.speed > 50.0
        wear = faults.wear()
        engagement = np.where(cutting, self.engagement * (1.0 + 0.06 * self.rng.normal(size=n)), 0)
        load = (
            100.0 * engagement * (1.0 + 0.25 * self.tool_wear / 100.0)
            + np.where(turning, 3.0 + 2.0 * self.speed / 24000.0 + 3.0 * wear, 0.0)
            + np.where(turning, self.noise(0.5), 0.0)
        )
        load = np.clip(load, 0.0, 200.0)
        base_speed = 6000.0  # constant torque below, constant power above
        power = self.rated_kw * load / 100.0 * np.minimum(1.0, self.speed / base_speed)
        power = np.maximum(power + np.where(turning, self.noise(0.05), 0.0), 0.0)
        current = np.where(turning, 4.5 + 0.32 * load, 0.4) + self.noise(0.15)
        feed = np.where(
            cutting,
            self.speed * 0.08 * 3 * (0.9 + 0.2 * self.engagement),  # fz * teeth
            np.where(running, 5000.0, 0.0),
        )

        coolant_target = np.where(running, 24.0, 0.0) * (
            1.0 - 0.9 * faults.level(Fault.COOLANT_LOSS)
        )
        self.coolant = lag(self.coolant, coolant_target, dt, 2.0)
        cooling = np.clip(self.coolant / 24.0, 0.0, 1.0)
        ambient = self.ambient(t)
        heat_gain = np.where(running, 2.2 / (0.4 + 0.6 * cooling), 2.2)  # C per kW
        bearing_heat = 12.0 * wear * self.speed / 12000.0
        self.spindle_temp = lag(
            self.spindle_temp,
            ambient + heat_gain * power + bearing_heat + 1.5 * self.speed / 24000.0,
            dt,
            self.thermal_tau,
        )
        self.coolant_temp = lag(self.coolant_temp, ambient + 1.0 + 0.5 * power * cooling, dt, 900.0)
        vibration = (
            (0.25 + 1.1 * (self.speed / 12000.0) ** 2 * self.imbalance) * (1.0 + 3.0 * wear)
            + 0.012 * load * cutting
        ) * self.rng.lognormal(0.0, 0.05, n)
        self.tool_wear = np.minimum(100.0, self.tool_wear + dt * load / 100.0 * 100.0 / 2400.0)
        door = setup | (idle & (self.duty.elapsed < 12.0))
        drift = self.drift(dt)
        good, scrap = self.counts(dt, faults)

        return np.column_stack(
            [
                self.duty.reported,
                np.maximum(self.speed + np.where(turning, self.noise(3.0), 0.0), 0.0),
                np.maximum(feed + np.where(cutting, self.noise(5.0), 0.0), 0.0),
                load,
                np.maximum(current, 0.0),
                power,
                self.spindle_temp + drift + self.noise(0.05),
                np.maximum(self.coolant + np.where(self.coolant > 1, self.noise(0.3), 0.0), 0),
                self.coolant_temp + drift + self.noise(0.05),
                vibration,
                self.tool_wear,
                self.parts,
                door,
                good,
                scrap,
            ]
        ).astype(np.float64)


# -- centrifugal pump ------------------------------------------------------------


class CentrifugalPump(MachineGroup):
    KIND = MachineKind(
        key="centrifugal_pump",
        label="Pump",
        model_name="CP-200 centrifugal pump with VFD (simulated)",
        manufacturer=MANUFACTURER,
        line_name="Utilities",
        serial_prefix="CP",
        signals=(
            Signal("running", "", "boolean", None, None, "Motor running"),
            Signal("motor_speed", "1/min", "double", 0, 3600, "Motor speed (VFD)"),
            Signal("valve_position", "%", "double", 0, 100, "Discharge control valve opening"),
            Signal("flow_rate", "m3/h", "double", 0, 300, "Discharge flow"),
            Signal("discharge_pressure", "bar", "double", 0, 10, "Discharge pressure"),
            Signal("suction_pressure", "bar", "double", -1, 4, "Suction pressure"),
            Signal("motor_power", "kW", "double", 0, 60, "Electrical power"),
            Signal("motor_current", "A", "double", 0, 120, "Motor current"),
            Signal("bearing_temperature", "Cel", "double", 0, 90, "Drive-end bearing"),
            Signal("vibration_rms", "mm/s", "double", 0, 7.1, "Bearing housing vibration"),
            Signal("fluid_temperature", "Cel", "double", 0, 80, "Pumped fluid temperature"),
            state_signal(),
            *count_signals(),
        ),
    )
    FAULTS = (Fault.BEARING_WEAR, Fault.LEAK)
    # A unit is a batch transferred.
    CYCLE_S = (120.0, 240.0)
    SCRAP_RATE = (0.0, 0.01)

    RATED_RPM = 2950.0
    SHUTOFF_HEAD_M = 55.0  # pump curve: H = H0 (n/n0)^2 - A Q^2
    PUMP_A = 5e-4
    STATIC_HEAD_M = 10.0  # system curve: H = Hs + K Q^2, K rising as the valve closes
    SYSTEM_K = 5.4e-4
    BEST_FLOW = 160.0  # best efficiency point at rated speed, m3/h

    def __init__(
        self, count: int, rng: np.random.Generator, *, counts_rng: np.random.Generator
    ) -> None:
        super().__init__(count, rng, counts_rng=counts_rng)
        self.duty = DutyCycle(
            count,
            rng,
            dwell_s={IDLE: (120.0, 900.0), RUNNING: (600.0, 3600.0), SETUP: (300.0, 900.0)},
            transitions=[[0.0, 0.95, 0.05], [0.9, 0.0, 0.1], [0.3, 0.7, 0.0]],
        )
        self.nominal_rpm = rng.uniform(2600.0, 2950.0, count)
        self.setpoint = self.nominal_rpm.copy()
        self.speed = np.where(self.duty.state == RUNNING, self.setpoint, 0.0)
        self.valve = rng.uniform(45.0, 75.0, count)
        self.tank_bar = rng.uniform(1.3, 1.7, count)
        self.fluid = rng.uniform(20.0, 35.0, count)
        self.imbalance = rng.uniform(0.8, 1.25, count)
        self.bearing_temp = self.ambient(0.0) + rng.uniform(10.0, 25.0, count)

    def _ou(self, x: Floats, mean: Floats | float, tau_s: float, sigma: float, dt: float) -> Floats:
        """An Ornstein-Uhlenbeck step: wanders around ``mean`` by about ``sigma``."""
        pull = (mean - x) * dt / tau_s
        result: Floats = x + pull + sigma * np.sqrt(2.0 * dt / tau_s) * self.noise(1.0)
        return result

    def step(self, t: float, dt: float, faults: FaultBook) -> Floats:
        self.duty.step(dt)
        running = self.duty.state == RUNNING
        self.setpoint = np.clip(self._ou(self.setpoint, self.nominal_rpm, 120, 60, dt), 1800, 2980)
        self.valve = np.clip(self._ou(self.valve, 60.0, 300, 10, dt), 20.0, 100.0)
        self.tank_bar = np.clip(self._ou(self.tank_bar, 1.5, 600, 0.1, dt), 1.0, 2.0)
        self.fluid = np.clip(self._ou(self.fluid, 28.0, 1800, 4, dt), 10.0, 45.0)
        self.speed = lag(self.speed, np.where(running, self.setpoint, 0.0), dt, 4.0)

        # Operating point: where the pump curve meets the system curve. A leak
        # downstream lowers the system's resistance: more flow, less pressure.
        s = self.speed / self.RATED_RPM
        system_k = self.SYSTEM_K / (self.valve / 100.0) ** 2
        system_k *= 1.0 - 0.6 * faults.level(Fault.LEAK)
        lift = np.maximum(self.SHUTOFF_HEAD_M * s**2 - self.STATIC_HEAD_M, 0.0)
        flow = np.sqrt(lift / (self.PUMP_A + system_k))
        head = np.maximum(self.SHUTOFF_HEAD_M * s**2 - self.PUMP_A * flow**2, 0.0)
        suction = self.tank_bar - 2e-5 * flow**2
        discharge = suction + 0.0981 * head  # 1 m of water is 0.0981 bar

        best = self.BEST_FLOW * np.maximum(s, 0.05)
        efficiency = np.clip(0.78 * (1.0 - (flow / best - 1.0) ** 2), 0.3, 0.78)
        hydraulic_kw = 1000.0 * 9.81 * (flow / 3600.0) * head / 1000.0
        electric_kw = np.where(self.speed > 30, hydraulic_kw / efficiency / 0.93 + 0.8 * s, 0)
        current = np.where(self.speed > 30, power_to_current(electric_kw) + 4.0, 0.2)

        wear = faults.wear()
        ambient = self.ambient(t)
        self.bearing_temp = lag(
            self.bearing_temp,
            ambient + 0.9 * electric_kw + 20.0 * wear * s + 0.3 * (self.fluid - 20.0),
            dt,
            1500.0,
        )
        vibration = (
            0.9 * s**2 * self.imbalance * (1.0 + 3.0 * wear)
            + 0.8 * np.abs(flow / best - 1.0) * (s > 0.1)
            + 0.1
        ) * self.rng.lognormal(0.0, 0.05, self.count)
        drift = self.drift(dt)
        good, scrap = self.counts(dt, faults)

        return np.column_stack(
            [
                running,
                np.maximum(self.speed + np.where(self.speed > 30, self.noise(2.0), 0.0), 0.0),
                self.valve,
                np.maximum(flow + np.where(flow > 1, self.noise(0.8), 0.0), 0.0),
                discharge + self.noise(0.01),
                suction + self.noise(0.01),
                np.maximum(electric_kw + np.where(running, self.noise(0.1), 0.0), 0.0),
                np.maximum(current + self.noise(0.1), 0.0),
                self.bearing_temp + drift + self.noise(0.05),
                vibration,
                self.fluid + self.noise(0.05),
                self.duty.reported,
                good,
                scrap,
            ]
        ).astype(np.float64)


# -- hydraulic press -------------------------------------------------------------


class HydraulicPress(MachineGroup):
    KIND = MachineKind(
        key="hydraulic_press",
        label="Press",
        model_name="HP-250 hydraulic press (simulated)",
        manufacturer=MANUFACTURER,
        line_name="Forming",
        serial_prefix="HP",
        signals=(
            state_signal(),
            Signal("ram_position", "mm", "double", 0, 500, "Ram position, 0 at the top"),
            Signal("press_force", "kN", "double", 0, 2500, "Pressing force"),
            Signal("hydraulic_pressure", "bar", "double", 0, 320, "Main cylinder pressure"),
            Signal("pump_motor_current", "A", "double", 0, 120, "Hydraulic pump motor current"),
            Signal("oil_temperature", "Cel", "double", 0, 70, "Hydraulic oil temperature"),
            Signal("oil_level", "%", "double", 50, 100, "Oil tank level"),
            Signal("stroke_rate", "1/min", "double", 0, 10, "Strokes per minute"),
            Signal("vibration_rms", "mm/s", "double", 0, 7.1, "Pump vibration"),
            Signal("cycle_count", "", "integer", 0, None, "Strokes made"),
            Signal("guard_closed", "", "boolean", None, None, "Safety guard closed"),
            *count_signals(),
        ),
    )
    FAULTS = (Fault.BEARING_WEAR, Fault.LEAK)
    CYCLE_S = (8.0, 14.0)

    STROKE_MM = 400.0
    CYLINDER_KN_PER_BAR = 7.07  # 300 mm bore: 0.0707 m2

    def __init__(
        self, count: int, rng: np.random.Generator, *, counts_rng: np.random.Generator
    ) -> None:
        super().__init__(count, rng, counts_rng=counts_rng)
        self.duty = DutyCycle(
            count,
            rng,
            dwell_s={IDLE: (60.0, 300.0), RUNNING: (300.0, 1800.0), SETUP: (300.0, 900.0)},
            transitions=[[0.0, 0.85, 0.15], [0.9, 0.0, 0.1], [0.1, 0.9, 0.0]],
        )
        self.cycle_s = rng.uniform(8.0, 14.0, count)
        self.target_kn = rng.uniform(1200.0, 2000.0, count)
        self.phase = rng.uniform(0.0, 1.0, count)
        self.cycles = rng.integers(10_000, 500_000, count).astype(np.float64)
        self.oil_temp = self.ambient(0.0) + rng.uniform(12.0, 22.0, count)
        self.oil_level = rng.uniform(76.0, 82.0, count)
        self.nominal_level = self.oil_level.copy()
        self.imbalance = rng.uniform(0.8, 1.25, count)

    def step(self, t: float, dt: float, faults: FaultBook) -> Floats:
        changed = self.duty.step(dt)
        state = self.duty.state
        running, setup, idle = state == RUNNING, state == SETUP, state == IDLE
        new_job = changed & running
        if new_job.any():  # a new job after setup or a pause: its own force and pace
            k = int(new_job.sum())
            self.cycle_s[new_job] = self.rng.uniform(8.0, 14.0, k)
            self.target_kn[new_job] = self.rng.uniform(1200.0, 2000.0, k)

        # One stroke: approach (fast down), press (force builds), hold, return.
        phase = self.phase + np.where(running, dt / self.cycle_s, 0.0)
        wrapped = phase >= 1.0
        self.cycles += wrapped
        self.phase = np.where(running, phase % 1.0, 0.0)
        p = self.phase
        approach, pressing = p < 0.35, (p >= 0.35) & (p < 0.6)
        hold, back = (p >= 0.6) & (p < 0.72), p >= 0.72

        def smooth(x: Floats) -> Floats:
            x = np.clip(x, 0.0, 1.0)
            result: Floats = x * x * (3.0 - 2.0 * x)
            return result

        position = np.select(
            [approach, pressing, hold, back],
            [
                380.0 * smooth(p / 0.35),
                380.0 + 20.0 * (p - 0.35) / 0.25,
                np.full(self.count, self.STROKE_MM),
                self.STROKE_MM * (1.0 - smooth((p - 0.72) / 0.28)),
            ],
        )
        position = np.where(running, position, 0.0)
        # A leak (internal leakage past the piston) caps the force the press builds.
        leak = faults.level(Fault.LEAK)
        peak = self.target_kn * (1.0 - 0.35 * leak)
        force = np.select(
            [approach, pressing, hold],
            [np.full(self.count, 5.0), peak * ((p - 0.35) / 0.25) ** 2, peak],
        ) + self.noise(3.0)
        force = np.where(running, np.maximum(force, 0.0), 0.0)
        pressure = 12.0 * ~setup + force / self.CYLINDER_KN_PER_BAR + self.noise(0.5)
        pressure = np.maximum(pressure, 0.0)
        pump_lpm = (
            np.select(
                [running & (approach | back), running & pressing, running & hold, idle],
                [
                    np.full(self.count, 200.0),
                    np.full(self.count, 40.0),
                    np.full(self.count, 6.0),
                    np.full(self.count, 20.0),
                ],
            )
            + 40.0 * leak * running
        )
        hydraulic_kw = pressure * pump_lpm / 600.0
        motor_kw = np.where(setup, 0.0, hydraulic_kw / 0.88 + 3.0)
        current = np.where(setup, 0.3, power_to_current(motor_kw)) + self.noise(0.2)

        ambient = self.ambient(t)
        self.oil_temp = lag(self.oil_temp, ambient + 1.1 * motor_kw, dt, 1800.0)
        # External leak: oil is lost, up to 1.5 % of the tank a minute; refilled after.
        self.oil_level = np.where(
            leak > 0, self.oil_level - 1.5 / 60.0 * leak * dt, self.nominal_level
        )
        level = self.oil_level - 4.0 * position / self.STROKE_MM  # oil in the cylinder
        wear = faults.wear()
        vibration = (
            (0.6 + 1.5 * pump_lpm / 200.0 * self.imbalance) * (1.0 + 3.0 * wear) * (~setup)
            + 0.003 * pressure
        ) * self.rng.lognormal(0.0, 0.05, self.count)
        guard = running | (idle & (self.duty.elapsed >= 10.0))
        drift = self.drift(dt)
        good, scrap = self.counts(dt, faults)

        return np.column_stack(
            [
                self.duty.reported,
                np.maximum(position + np.where(running, self.noise(0.2), 0.0), 0.0),
                force,
                pressure,
                np.maximum(current, 0.0),
                self.oil_temp + drift + self.noise(0.05),
                level + self.noise(0.1),
                np.where(running, 60.0 / self.cycle_s, 0.0),
                vibration,
                self.cycles,
                guard,
                good,
                scrap,
            ]
        ).astype(np.float64)


KINDS: tuple[type[MachineGroup], ...] = (CncMill, CentrifugalPump, HydraulicPress)
