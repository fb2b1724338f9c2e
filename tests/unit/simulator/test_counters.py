"""Every simulated machine reports its state and good and scrap totals, the
signals production maps to running time and counts."""

from __future__ import annotations

import numpy as np
import pytest

from imcloud_simulator.counters import HEALTHY_PERFORMANCE, STARTUP_UNITS
from imcloud_simulator.faults import Fault
from imcloud_simulator.fleet import FaultInjection, Fleet, StateChange
from imcloud_simulator.machines import (
    DOWN,
    PLANNED_STOP,
    RUNNING,
    SETUP,
    CncMill,
    HydraulicPress,
)
from imcloud_simulator.signals import MachineKind
from tests.unit.simulator.test_fleet import Array, Recording, record

# Fleet(4): two mills (machines 0, 1), a pump (2) and a press (3).
MILL, PRESS = 0, 3
COUNTS = ("good_count", "scrap_count")


@pytest.fixture(scope="module")
def shift() -> tuple[Fleet, Recording]:
    """Two hours of 12 fault-free machines at 1 Hz."""
    fleet = Fleet(12, seed=23, rate_hz=1.0, fault_rate_per_hour=0)
    return fleet, record(fleet, 7200)


def made(recording: Recording, kind: MachineKind) -> Array:
    """Units completed per tick (ticks x machines), good and scrap together."""
    total = sum(recording.signal(kind, name) for name in COUNTS)
    assert isinstance(total, np.ndarray)
    return np.diff(total, axis=0, prepend=total[:1])


def test_the_totals_only_grow_and_only_while_the_machine_runs(
    shift: tuple[Fleet, Recording],
) -> None:
    fleet, recording = shift
    for kind in fleet.kinds:
        states = recording.signal(kind, "run_state")
        for name in COUNTS:
            total = recording.signal(kind, name)
            steps = np.diff(total, axis=0)
            assert (steps >= 0).all(), (kind.key, name)
            assert (steps[states[1:] != RUNNING] == 0).all(), (kind.key, name)
        assert (made(recording, kind)[-3600:].sum(axis=0) > 0).all(), kind.key


def test_each_machine_keeps_its_own_cycle_time_on_average(
    shift: tuple[Fleet, Recording],
) -> None:
    fleet, recording = shift
    start = 0
    for kind in fleet.kinds:
        running_s = (recording.signal(kind, "run_state") == RUNNING).sum(axis=0)
        units = made(recording, kind).sum(axis=0)
        machines = range(start, start + running_s.size)
        start += running_s.size
        expected_s = np.array([fleet.ideal_cycle_s(m) for m in machines]) / HEALTHY_PERFORMANCE
        np.testing.assert_allclose(running_s / units, expected_s, rtol=0.05, err_msg=kind.key)
    ideal = [fleet.ideal_cycle_s(m) for m in range(len(fleet.machines))]
    assert len(set(ideal)) == len(ideal), "every machine has a cycle time of its own"


def test_the_first_units_after_a_setup_are_scrapped_far_more_often() -> None:
    fleet = Fleet(4, seed=8, fault_rate_per_hour=0)
    # A changeover every 5 minutes on both mills and the press.
    fleet.play(
        StateChange(at_s, machine, SETUP, 60.0)
        for at_s in range(150, 7200, 300)
        for machine in (0, 1, PRESS)
    )
    recording = record(fleet, 7200)
    startup = np.zeros(2)  # units, scrap
    settled = np.zeros(2)
    for kind in (CncMill.KIND, HydraulicPress.KIND):
        states = recording.signal(kind, "run_state")
        units = made(recording, kind)
        scrap = np.diff(recording.signal(kind, "scrap_count"), axis=0, prepend=0)
        before = np.cumsum(units, axis=0) - units  # units made before each tick
        restart = np.zeros_like(states, dtype=bool)
        restart[1:] = (states[:-1] == SETUP) & (states[1:] == RUNNING)
        since = before - np.maximum.accumulate(np.where(restart, before, -np.inf), axis=0)
        first = since < STARTUP_UNITS
        startup += units[first].sum(), scrap[first].sum()
        settled += units[~first].sum(), scrap[~first].sum()
    assert startup[0] > 100
    assert settled[0] > 500
    startup_rate, settled_rate = startup[1] / startup[0], settled[1] / settled[0]
    assert startup_rate > 4 * settled_rate, (startup_rate, settled_rate)


def test_a_degraded_machine_cycles_slower_and_scraps_more() -> None:
    def run(*script: FaultInjection) -> Recording:
        fleet = Fleet(4, seed=3, fault_rate_per_hour=0)
        fleet.play(script)
        return record(fleet, 3600)

    healthy = run()
    dry = run(FaultInjection(0.0, MILL, Fault.COOLANT_LOSS, duration_s=3600, severity=1.0))
    mill = CncMill.KIND

    def per_unit_s(recording: Recording) -> float:
        running = (recording.signal(mill, "run_state")[:, MILL] == RUNNING).sum()
        return float(running / made(recording, mill)[:, MILL].sum())

    assert per_unit_s(dry) > 1.4 * per_unit_s(healthy)
    scrap_share = [
        r.signal(mill, "scrap_count")[-1, MILL] / made(r, mill)[:, MILL].sum()
        for r in (healthy, dry)
    ]
    assert scrap_share[1] > scrap_share[0] + 0.05


def test_a_breakdown_stops_the_machine_and_its_counts_then_it_runs_again() -> None:
    fleet = Fleet(4, seed=4, fault_rate_per_hour=0)
    fleet.play([StateChange(100.0, MILL, DOWN, 180.0), StateChange(400.0, PRESS, PLANNED_STOP, 90)])
    recording = record(fleet, 600)
    mill = CncMill.KIND
    states = recording.signal(mill, "run_state")[:, MILL]
    assert (states[100:280] == DOWN).all()
    assert states[280] == RUNNING
    assert DOWN not in states[281:]
    good = recording.signal(mill, "good_count")[:, MILL]
    assert good[279] == good[100]
    assert good[-1] > good[280]
    assert recording.signal(mill, "spindle_speed")[150:280, MILL].max() < 1
    press = recording.signal(HydraulicPress.KIND, "run_state")[:, 0]
    assert (press[400:490] == PLANNED_STOP).all()
    assert press[490] == RUNNING


def test_a_counter_reset_starts_the_totals_from_zero() -> None:
    fleet = Fleet(4, seed=6, fault_rate_per_hour=0)
    before = record(fleet, 1200)
    fleet.reset_counters(MILL)
    after = record(fleet, 1200)
    mill = CncMill.KIND
    assert before.signal(mill, "good_count")[-1, MILL] > 10
    assert after.signal(mill, "good_count")[0, MILL] <= 1
    assert after.signal(mill, "good_count")[-1, MILL] > 10
    # The other mill kept counting.
    assert after.signal(mill, "good_count")[0, 1] >= before.signal(mill, "good_count")[-1, 1]


def test_a_machine_cannot_be_held_running() -> None:
    with pytest.raises(ValueError, match="cannot be held"):
        Fleet(4, seed=1).hold(MILL, RUNNING, 60.0)
