"""The simulated machines: reproducible, in range, physically coherent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from imcloud_simulator.fleet import Fleet
from imcloud_simulator.machines import (
    RUNNING,
    CentrifugalPump,
    CncMill,
    HydraulicPress,
)
from imcloud_simulator.signals import MachineKind

Array = npt.NDArray[np.float64]


@dataclass
class Recording:
    """Readings of a run: per kind, ticks x machines x signals."""

    values: dict[str, Array]
    reporting: dict[str, npt.NDArray[np.bool_]]
    timestamps_ms: list[int]

    def signal(self, kind: MachineKind, name: str) -> Array:
        """ticks x machines"""
        return self.values[kind.key][:, :, kind.index(name)]


def record(fleet: Fleet, ticks: int) -> Recording:
    values: dict[str, list[Array]] = {k.key: [] for k in fleet.kinds}
    reporting: dict[str, list[npt.NDArray[np.bool_]]] = {k.key: [] for k in fleet.kinds}
    stamps = []
    for _ in range(ticks):
        tick = fleet.step()
        stamps.append(tick.timestamp_ms)
        for reading in tick.readings:
            values[reading.kind.key].append(reading.values.copy())
            reporting[reading.kind.key].append(reading.reporting.copy())
    return Recording(
        {k: np.stack(v) for k, v in values.items()},
        {k: np.stack(v) for k, v in reporting.items()},
        stamps,
    )


@pytest.fixture(scope="module")
def healthy() -> Recording:
    """Two hours of 12 fault-free machines at 1 Hz."""
    return record(Fleet(12, seed=11, rate_hz=1.0, fault_rate_per_hour=0), 7200)


def corr(a: Array, b: Array) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_the_same_seed_gives_the_same_readings_and_faults() -> None:
    def run(seed: int) -> tuple[Recording, list[object]]:
        fleet = Fleet(8, seed=seed, rate_hz=5.0, fault_rate_per_hour=600)
        return record(fleet, 1500), list(fleet.events)

    (first, first_faults), (again, again_faults) = run(42), run(42)
    other, _ = run(43)
    assert first_faults
    assert first_faults == again_faults
    for key, values in first.values.items():
        np.testing.assert_array_equal(values, again.values[key])  # NaN bursts included
        np.testing.assert_array_equal(first.reporting[key], again.reporting[key])
        assert not np.array_equal(values, other.values[key], equal_nan=True)


def test_a_fleet_has_every_kind_and_timestamps_at_the_rate() -> None:
    fleet = Fleet(3, seed=1, rate_hz=4.0, start_ms=1_000)
    assert [k.key for k in fleet.kinds] == ["cnc_mill", "centrifugal_pump", "hydraulic_press"]
    assert [m.name for m in fleet.machines] == ["CNC mill 1", "Pump 1", "Press 1"]
    assert [fleet.step().timestamp_ms for _ in range(5)] == [1000, 1250, 1500, 1750, 2000]
    assert len(Fleet(50).machines) == 50


def test_every_model_has_about_a_dozen_signals_the_rest_api_accepts() -> None:
    for group in (CncMill, CentrifugalPump, HydraulicPress):
        body = group.KIND.model_body()
        assert 10 <= len(body["signals"]) <= 15
        names = [s["name"] for s in body["signals"]]
        assert len(set(names)) == len(names)
        # What production maps to states and counts, on every kind.
        assert {"run_state", "good_count", "scrap_count"} <= set(names)
        for signal in body["signals"]:
            assert 1 <= len(signal["name"]) <= 64
            assert len(signal["unit"]) <= 32
            assert signal["type"] in ("double", "integer", "boolean")
            if signal["type"] == "boolean":
                assert signal["min_value"] is None
                assert signal["max_value"] is None


def test_normal_running_stays_within_every_valid_range(healthy: Recording) -> None:
    fleet = Fleet(12, seed=11)
    for kind in fleet.kinds:
        for signal in kind.signals:
            values = healthy.signal(kind, signal.name)
            assert np.isfinite(values).all(), signal.name
            if signal.min_value is not None:
                assert values.min() >= signal.min_value, signal.name
            if signal.max_value is not None:
                assert values.max() <= signal.max_value, signal.name
            if signal.type == "integer":
                np.testing.assert_array_equal(values, np.round(values), err_msg=signal.name)
            if signal.type == "boolean":
                assert set(np.unique(values)) <= {0.0, 1.0}, signal.name
    assert all(healthy.reporting[k].all() for k in healthy.reporting)


def test_machines_cycle_through_idle_running_and_setup(healthy: Recording) -> None:
    for kind in (CncMill.KIND, HydraulicPress.KIND):
        states = healthy.signal(kind, "run_state")
        shares = [float((states == s).mean()) for s in (0, 1, 2)]
        assert shares[RUNNING] > 0.5, kind.key
        assert all(share > 0.01 for share in shares), (kind.key, shares)
    running = healthy.signal(CentrifugalPump.KIND, "running")
    assert 0.5 < running.mean() < 0.99
    pump_states = healthy.signal(CentrifugalPump.KIND, "run_state")
    np.testing.assert_array_equal(pump_states == RUNNING, running == 1)


def test_cnc_current_and_power_follow_the_spindle_load(healthy: Recording) -> None:
    cnc = CncMill.KIND
    load = healthy.signal(cnc, "spindle_load")
    assert corr(load, healthy.signal(cnc, "spindle_current")) > 0.8
    assert corr(load, healthy.signal(cnc, "spindle_power")) > 0.8
    # No cutting, no feed; no spindle, no load.
    speed = healthy.signal(cnc, "spindle_speed")
    assert load[speed < 1].max() < 1


def test_the_spindle_heats_up_with_a_lag_of_minutes(healthy: Recording) -> None:
    cnc = CncMill.KIND
    power = healthy.signal(cnc, "spindle_power")
    temperature = healthy.signal(cnc, "spindle_temperature")
    lags = range(0, 1800, 30)
    machine_corr = [
        np.mean(
            [corr(power[: -lag or None, m], temperature[lag:, m]) for m in range(power.shape[1])]
        )
        for lag in lags
    ]
    best = lags[int(np.argmax(machine_corr))]
    assert best >= 120, f"temperature follows power after {best} s"


def test_pump_flow_and_pressure_sit_on_the_pump_curve(healthy: Recording) -> None:
    pump = CentrifugalPump.KIND
    speed = healthy.signal(pump, "motor_speed")
    flow = healthy.signal(pump, "flow_rate")
    head = (
        healthy.signal(pump, "discharge_pressure") - healthy.signal(pump, "suction_pressure")
    ) / 0.0981
    on = speed > 1500
    s = speed[on] / CentrifugalPump.RATED_RPM
    expected = CentrifugalPump.SHUTOFF_HEAD_M * s**2 - CentrifugalPump.PUMP_A * flow[on] ** 2
    assert np.abs(head[on] - expected).mean() < 1.0  # metres
    assert corr(speed, flow) > 0.8
    assert corr(healthy.signal(pump, "motor_power"), healthy.signal(pump, "motor_current")) > 0.95


def test_press_force_and_pressure_are_one(healthy: Recording) -> None:
    press = HydraulicPress.KIND
    force = healthy.signal(press, "press_force")
    pressure = healthy.signal(press, "hydraulic_pressure")
    assert corr(force, pressure) > 0.95
    # Full force only at the bottom of the stroke.
    position = healthy.signal(press, "ram_position")
    assert position[force > 1000].min() > 380
