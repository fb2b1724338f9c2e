"""The fleet runner feeds one SDK client per machine, here against the fake link."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from rich.console import Console

from imcloud_simulator.display import LiveView, summary
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.onboarding import OnboardedMachine, OnboardedPlant
from imcloud_simulator.runner import FleetRunner, Progress, Totals
from tests.unit.sdk.fake_link import GOOD_CREDENTIAL, FakeDeviceLink, FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    running = FakeServer(FakeDeviceLink()).start()
    yield running
    running.stop()


def plant_of(fleet: Fleet) -> OnboardedPlant:
    return OnboardedPlant(
        api_key="imk_test",
        tenant_id="t",
        plant_id="p",
        equipment_model_ids={},
        machines=[
            OnboardedMachine(m, f"e{m.index}", f"SN-{m.index}", GOOD_CREDENTIAL)
            for m in fleet.machines
        ],
    )


def test_every_reading_is_recorded_sent_and_acknowledged(server: FakeServer) -> None:
    fleet = Fleet(3, seed=1, rate_hz=20.0, fault_rate_per_hour=0)
    runner = FleetRunner(fleet, plant_of(fleet), device_link=server.target, flush_interval_s=0.1)
    reports: list[Progress] = []

    runner.run(threading.Event(), duration_s=1.0, report=reports.append)

    assert runner.ticks == 20
    signals = sum(len(k.signals) for k in fleet.kinds)
    by_kind = runner.totals_by_kind()
    assert set(by_kind) == {"CNC mill", "Pump", "Press"}
    at_the_end = reports[-1].totals  # before the clients deliver their last batches
    assert at_the_end.recorded == 20 * signals
    assert at_the_end.accepted >= at_the_end.recorded // 2  # batches leave every 0.1 s
    everything = Totals.combine(list(by_kind.values()))
    assert everything.recorded == everything.accepted == 20 * signals
    assert everything.buffered == everything.refused == 0
    received = sum(len(s.values) for b in server.link.batches() for s in b.series)
    assert received == 20 * signals
    assert runner.cpu.cpu_s > 0
    assert 0.9 < runner.cpu.wall_s < 5


def test_a_stop_ends_the_run_early(server: FakeServer) -> None:
    fleet = Fleet(1, seed=1, rate_hz=10.0)
    runner = FleetRunner(fleet, plant_of(fleet), device_link=server.target)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    runner.run(stop)  # no duration: until stopped
    assert 2 <= runner.ticks <= 10


def test_the_display_shows_rates_totals_and_the_summary(server: FakeServer) -> None:
    fleet = Fleet(3, seed=1, rate_hz=20.0, fault_rate_per_hour=0)
    runner = FleetRunner(fleet, plant_of(fleet), device_link=server.target, flush_interval_s=0.1)
    view = LiveView(title="simulate", duration_s=1)
    console = Console(record=True, width=120)
    runner.run(threading.Event(), duration_s=0.5, report=lambda p: console.print(view.render(p)))
    console.print(
        summary(runner.totals_by_kind(), faults=fleet.events, cpu=runner.cpu, ticks=runner.ticks)
    )
    text = console.export_text()
    assert "points/s" in text
    assert "Simulation summary" in text
    assert "CNC mill" in text
    assert "of one core" in text
