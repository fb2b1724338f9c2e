"""The fleet runner feeds one SDK client per machine, here against the fake link."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from rich.console import Console

from imcloud_simulator.display import LiveView, summary
from imcloud_simulator.faults import Fault
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.onboarding import OnboardedMachine, OnboardedPlant
from imcloud_simulator.runner import FleetRunner, Progress, Stage, Totals
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
            OnboardedMachine(m, f"e{m.index}", f"SN-{m.index}", GOOD_CREDENTIAL, f"s{m.index}")
            for m in fleet.machines
        ],
        line_ids={},
        time_zone="UTC",
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
    everything = Totals.combine(list(by_kind.values()))
    assert everything.recorded == everything.accepted == 20 * signals
    assert everything.buffered == everything.refused == 0
    received = sum(len(s.values) for b in server.link.batches() for s in b.series)
    assert received == 20 * signals
    assert runner.cpu.cpu_s > 0
    assert 0.9 < runner.cpu.wall_s < 5


def test_the_last_report_carries_the_totals_the_summary_shows(server: FakeServer) -> None:
    fleet = Fleet(3, seed=1, rate_hz=20.0, fault_rate_per_hour=0)
    # Batches wait longer than the run, so only closing the clients delivers them.
    runner = FleetRunner(fleet, plant_of(fleet), device_link=server.target, flush_interval_s=5)
    reports: list[Progress] = []

    runner.run(threading.Event(), duration_s=0.5, report=reports.append)

    assert [p.stage for p in reports[-2:]] == [Stage.DELIVERING, Stage.DONE]
    assert reports[-2].totals.accepted < reports[-2].totals.recorded
    summarised = Totals.combine(list(runner.totals_by_kind().values()))
    assert reports[-1].totals == summarised
    assert summarised.accepted == summarised.recorded > 0


def test_the_last_delivered_reading_of_each_machine_is_known(server: FakeServer) -> None:
    fleet = Fleet(3, seed=1, rate_hz=10.0, fault_rate_per_hour=0)
    plant = plant_of(fleet)
    runner = FleetRunner(fleet, plant, device_link=server.target, flush_interval_s=0.1)
    fleet.inject(2, Fault.DROPOUT, duration_s=60)  # the third reports nothing at all

    runner.run(threading.Event(), duration_s=0.5)

    last_ms = fleet.start_ms + 400  # the fifth tick at 10 Hz
    assert runner.last_delivered_ms() == {
        plant.machines[0].equipment_id: last_ms,
        plant.machines[1].equipment_id: last_ms,
    }


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
    assert "(out of range 0)" in text
    assert "done" in text
    assert "Simulation summary" in text
    assert "CNC mill" in text
    assert "of one core" in text
