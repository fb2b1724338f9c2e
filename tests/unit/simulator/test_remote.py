"""An operator's commands to a simulated machine: held in a state for a while, then
running again; what it does not know it refuses, saying what it knows."""

from __future__ import annotations

from typing import Any

import pytest

from imcloud_device import Command, CommandOutcome
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.machines import PLANNED_STOP, RUNNING
from imcloud_simulator.remote import CommandDesk


def command(name: str, **parameters: Any) -> Command:
    return Command(command_id="c-1", name=name, parameters=parameters)


def run_state(fleet: Fleet, machine: int) -> int:
    tick = fleet.step()
    for reading in tick.readings:
        if machine in reading.machines:
            column = reading.kind.index("run_state")
            return int(reading.values[reading.machines.index(machine), column])
    raise AssertionError(f"no reading of machine {machine}")


def test_a_held_machine_stops_for_the_time_asked_then_runs() -> None:
    fleet = Fleet(3, seed=7, rate_hz=1.0, fault_rate_per_hour=0)
    desk = CommandDesk()
    answer = desk.handler(2)(command("hold", state="planned_stop", duration_s=30))
    assert answer == (CommandOutcome.SUCCEEDED, "held planned_stop for 30 s, then it runs")

    desk.apply(fleet)
    states = [run_state(fleet, 2) for _ in range(35)]
    assert states[:30] == [PLANNED_STOP] * 30
    assert states[-1] == RUNNING


@pytest.mark.parametrize(
    ("parameters", "why"),
    [
        ({"state": "sleeping"}, "state must be one of idle, setup, down, planned_stop"),
        ({"state": "idle", "duration_s": 0}, "duration_s must be a number from 1 to 28800"),
        ({"state": "idle", "duration_s": "60"}, "duration_s must be a number from 1 to 28800"),
        ({"state": "idle", "duration_s": True}, "duration_s must be a number from 1 to 28800"),
        ({"state": "idle", "duration_s": 28801}, "duration_s must be a number from 1 to 28800"),
    ],
)
def test_a_hold_it_cannot_do_is_rejected_and_changes_nothing(
    parameters: dict[str, Any], why: str
) -> None:
    fleet = Fleet(1, seed=7, fault_rate_per_hour=0)
    reference = Fleet(1, seed=7, fault_rate_per_hour=0)
    desk = CommandDesk()
    assert desk.handler(0)(command("hold", **parameters)) == (CommandOutcome.REJECTED, why)
    desk.apply(fleet)
    assert [run_state(fleet, 0) for _ in range(20)] == [run_state(reference, 0) for _ in range(20)]


def test_an_unknown_command_is_rejected_with_what_the_machine_knows() -> None:
    outcome, detail = CommandDesk().handler(0)(command("set_speed", rpm=1200))
    assert outcome is CommandOutcome.REJECTED
    assert detail.startswith('a simulated machine knows hold {"state": idle | setup')
