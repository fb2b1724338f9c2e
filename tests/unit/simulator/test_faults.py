"""Injected faults show up in the readings, the way they would on the shop floor.

Each test compares a machine with a fault against its healthy twin: the same
seed without the fault, so every difference is the fault's doing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from imcloud_simulator.faults import Fault
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.machines import CentrifugalPump, CncMill, HydraulicPress
from tests.unit.simulator.test_fleet import Recording, record

# Fleet(4) holds two mills (machines 0, 1), a pump (2) and a press (3); within
# its kind's readings, each of the three below is column 0.
MILL, PUMP, PRESS = 0, 2, 3


def twins(
    inject: Callable[[Fleet], object], ticks: int, rate_hz: float = 1.0
) -> tuple[Recording, Recording, Fleet]:
    healthy = record(Fleet(4, seed=5, rate_hz=rate_hz, fault_rate_per_hour=0), ticks)
    fleet = Fleet(4, seed=5, rate_hz=rate_hz, fault_rate_per_hour=0)
    inject(fleet)
    return healthy, record(fleet, ticks), fleet


def test_bearing_wear_makes_the_spindle_vibrate_more_and_more() -> None:
    healthy, worn, _ = twins(lambda f: f.inject(MILL, Fault.BEARING_WEAR, duration_s=1200), 1200)
    vibration = worn.signal(CncMill.KIND, "vibration_rms")[:, MILL]
    baseline = healthy.signal(CncMill.KIND, "vibration_rms")[:, MILL]
    speed = healthy.signal(CncMill.KIND, "spindle_speed")[:, MILL]
    early, late = slice(0, 120), slice(900, 1150)
    spinning = speed > 3000
    assert (vibration[late] / baseline[late])[spinning[late]].mean() > 2.5
    assert (vibration[early] / baseline[early])[spinning[early]].mean() < 1.5
    # It heats the bearing too.
    temperature = worn.signal(CncMill.KIND, "spindle_temperature")[:, MILL]
    assert (temperature - healthy.signal(CncMill.KIND, "spindle_temperature")[:, MILL])[
        late
    ].mean() > 1


def test_only_a_fault_grown_for_minutes_leaves_the_valid_range() -> None:
    # What the platform flags as out of range: a short run shows none of it.
    healthy, worn, _ = twins(lambda f: f.inject(PRESS, Fault.BEARING_WEAR, duration_s=1200), 1200)
    limit = HydraulicPress.KIND.signals[HydraulicPress.KIND.index("vibration_rms")].max_value
    assert limit is not None
    vibration = worn.signal(HydraulicPress.KIND, "vibration_rms")[:, 0]
    assert healthy.signal(HydraulicPress.KIND, "vibration_rms")[:, 0].max() <= limit
    assert vibration[:300].max() <= limit
    assert vibration[600:].max() > limit


def test_coolant_loss_starves_the_flow_and_heats_the_spindle() -> None:
    healthy, dry, _ = twins(lambda f: f.inject(MILL, Fault.COOLANT_LOSS, duration_s=900), 900)
    running = healthy.signal(CncMill.KIND, "run_state")[:, MILL] == 1
    late = np.arange(900) > 600
    flow = dry.signal(CncMill.KIND, "coolant_flow")[:, MILL]
    assert flow[running & late].max() < 6
    assert healthy.signal(CncMill.KIND, "coolant_flow")[:, MILL][running & late].mean() > 20
    hotter = (
        dry.signal(CncMill.KIND, "spindle_temperature")[:, MILL]
        - healthy.signal(CncMill.KIND, "spindle_temperature")[:, MILL]
    )
    assert hotter[-1] > 5


def test_a_leak_behind_the_pump_raises_flow_and_drops_pressure() -> None:
    healthy, leaking, _ = twins(lambda f: f.inject(PUMP, Fault.LEAK, duration_s=600), 600)
    pump = CentrifugalPump.KIND
    on = healthy.signal(pump, "running")[:, 0] == 1
    assert on.sum() > 100
    more_flow = leaking.signal(pump, "flow_rate")[on, 0] - healthy.signal(pump, "flow_rate")[on, 0]
    less_pressure = (
        healthy.signal(pump, "discharge_pressure")[on, 0]
        - leaking.signal(pump, "discharge_pressure")[on, 0]
    )
    assert more_flow.mean() > 15
    assert less_pressure.mean() > 0.3


def test_a_leaking_press_loses_oil_and_force() -> None:
    healthy, leaking, _ = twins(
        lambda f: f.inject(PRESS, Fault.LEAK, duration_s=1800), 900, rate_hz=0.5
    )
    press = HydraulicPress.KIND
    level = leaking.signal(press, "oil_level")[:, 0]
    assert level[-1] < press.signals[press.index("oil_level")].min_value  # stored, flagged
    assert healthy.signal(press, "oil_level")[:, 0].min() > 60
    peak = healthy.signal(press, "press_force")[:, 0].max()
    assert leaking.signal(press, "press_force")[:, 0].max() < 0.8 * peak


def test_a_stuck_sensor_repeats_its_value_until_it_recovers() -> None:
    _, stuck, fleet = twins(
        lambda f: f.inject(MILL, Fault.SENSOR_STUCK, duration_s=60, signal="spindle_speed"), 120
    )
    speed = stuck.signal(CncMill.KIND, "spindle_speed")[:, MILL]
    assert len(set(speed[:60])) == 1
    assert len(set(speed[60:])) > 1 or speed[60:].max() == 0  # moving again (or stopped)
    assert fleet.events[0].signal == "spindle_speed"


def test_a_nan_burst_hits_one_signal_for_its_duration() -> None:
    _, burst, _ = twins(
        lambda f: f.inject(PUMP, Fault.NAN_BURST, duration_s=5, signal="flow_rate"), 20
    )
    values = burst.values[CentrifugalPump.KIND.key][:, 0, :]
    nan = np.isnan(values)
    flow = CentrifugalPump.KIND.index("flow_rate")
    assert nan[:5, flow].all()
    assert nan.sum() == 5


def test_a_dropout_silences_the_machine_for_its_duration() -> None:
    _, silent, _ = twins(lambda f: f.inject(PRESS, Fault.DROPOUT, duration_s=10), 30)
    reporting = silent.reporting[HydraulicPress.KIND.key][:, 0]
    assert not reporting[:10].any()
    assert reporting[10:].all()


def test_random_faults_strike_every_kind_of_fault_and_end() -> None:
    fleet = Fleet(12, seed=9, rate_hz=1.0, fault_rate_per_hour=60)
    record(fleet, 3600)
    assert {e.fault for e in fleet.events} == set(Fault)
    kinds: dict[str, set[Fault]] = {k.key: set() for k in fleet.kinds}
    for event in fleet.events:
        kinds[fleet.machines[event.machine].kind.key].add(event.fault)
    assert Fault.COOLANT_LOSS not in kinds["centrifugal_pump"] | kinds["hydraulic_press"]
    assert sum(fleet.active_faults().values()) <= 12


def test_a_fault_a_machine_cannot_have_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot suffer"):
        Fleet(4).inject(PUMP, Fault.COOLANT_LOSS)
