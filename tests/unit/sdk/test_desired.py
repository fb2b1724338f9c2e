"""The desired state on the machine: each version applied once, never an older one
after a newer, and a repeat of the last answered with its report again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud_device import DesiredState
from imcloud_device.desired import DesiredHandler, DesiredStateRunner
from tests.support.waiting import wait_for


def desired(version: int, **properties: Any) -> pb.DesiredState:
    return pb.DesiredState(version=version, properties_json=json.dumps(properties))


class Machine:
    def __init__(self) -> None:
        self.applied: list[DesiredState] = []
        self.reports: list[pb.DesiredStateApplied] = []
        self._lock = threading.Lock()

    def apply(self, state: DesiredState) -> str | None:
        self.applied.append(state)
        if "coolant" in state.properties:
            return "no coolant pump on this machine"
        if state.properties.get("mode") == "broken":
            raise RuntimeError("the controller refused")
        return None

    def report(self, report: pb.DesiredStateApplied) -> None:
        with self._lock:
            self.reports.append(report)

    def wait_for_reports(self, count: int) -> list[tuple[int, str]]:
        wait_for(lambda: len(self.reports) >= count, timeout_s=10, what=f"{count} reports")
        return [(r.version, r.detail) for r in self.reports]


@pytest.fixture
def machine() -> Machine:
    return Machine()


@pytest.fixture
def runner(machine: Machine) -> Iterator[DesiredStateRunner]:
    running = DesiredStateRunner(machine.apply, machine.report)
    yield running
    running.close()


def test_each_version_is_applied_once_and_reported(
    machine: Machine, runner: DesiredStateRunner
) -> None:
    runner.submit(desired(1, feed_override=90, steps=3))
    runner.submit(desired(2, feed_override=95, coolant=True))
    assert machine.wait_for_reports(2) == [(1, ""), (2, "no coolant pump on this machine")]
    assert [s.properties for s in machine.applied] == [
        {"feed_override": 90, "steps": 3},
        {"feed_override": 95, "coolant": True},
    ]
    assert isinstance(machine.applied[0].properties["steps"], int)


def test_a_repeat_is_reported_again_and_an_older_version_dropped(
    machine: Machine, runner: DesiredStateRunner
) -> None:
    runner.submit(desired(3, mode="eco"))
    runner.submit(desired(3, mode="eco"))  # on connect, and from the topic
    runner.submit(desired(2, mode="old"))  # a late delivery from another replica
    runner.submit(desired(4, mode="turbo"))
    assert machine.wait_for_reports(3) == [(3, ""), (3, ""), (4, "")]
    assert [s.version for s in machine.applied] == [3, 4]


def test_a_version_the_handler_fails_on_is_not_reported_and_comes_again(
    machine: Machine, runner: DesiredStateRunner
) -> None:
    runner.submit(desired(1, mode="broken"))
    runner.submit(desired(1, mode="broken"))
    runner.submit(desired(2, mode="eco"))
    assert machine.wait_for_reports(1) == [(2, "")]
    assert [s.version for s in machine.applied] == [1, 1, 2]


def test_without_a_handler_nothing_is_applied_or_reported(machine: Machine) -> None:
    handler: DesiredHandler | None = None
    runner = DesiredStateRunner(handler, machine.report)
    runner.submit(desired(1, mode="eco"))
    runner.close()
    assert machine.reports == []
