"""Servitization's clients of production's schedule and OEE, against the real
production service over gRPC on its real store (both databases): a booking
retried after a failure books once, removing it twice is harmless, and the OEE
per shift that KPI alarm rules judge comes with each shift's name and times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from imcloud.production.v1 import calendar_pb2
from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1.production_service_pb2_grpc import ProductionServiceStub
from imcloud_core.convert import timestamp
from imcloud_core.rpc import CallContext, GrpcServer, call, open_channel
from imcloud_production.api.grpc_servicer import ProductionServicer, register
from imcloud_production.settings import SchedulingSettings
from imcloud_servitization.clients.production import ProductionScheduler, ProductionShiftKpis
from imcloud_servitization.domain.alarms import AlarmScope, ScopeKind
from tests.unit.production.harness import FakeMachines, ProductionStore

TENANT = "tenant-1"


@pytest.fixture
def store(empty_database_url: str) -> Iterator[ProductionStore]:
    store = ProductionStore(empty_database_url)
    yield store
    store.close()


@pytest.fixture
def target(store: ProductionStore) -> Iterator[str]:
    server = GrpcServer(
        name="production-test",
        bind="127.0.0.1:0",
        register=[
            register(
                ProductionServicer(store.unit_of_work, SchedulingSettings(), recipes=FakeMachines())
            )
        ],
    )
    server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        server.stop(grace_s=0)


def station(stub: ProductionServiceStub) -> tuple[str, str]:
    ctx = CallContext(tenant_id=TENANT)
    plant = call(stub.CreatePlant, pb.CreatePlantRequest(name="Works"), ctx=ctx, deadline_s=10)
    line = call(
        stub.CreateLine,
        pb.CreateLineRequest(plant_id=plant.plant.id, name="A"),
        ctx=ctx,
        deadline_s=10,
    )
    created = call(
        stub.CreateStation,
        pb.CreateStationRequest(line_id=line.line.id, name="Mill"),
        ctx=ctx,
        deadline_s=10,
    )
    return plant.plant.id, created.station.id


def test_a_retried_booking_books_once_and_removing_it_twice_is_harmless(target: str) -> None:
    with open_channel(target) as channel:
        stub = ProductionServiceStub(channel)
        plant_id, station_id = station(stub)
        scheduler = ProductionScheduler(channel)
        start = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
        end = start + timedelta(hours=2)

        def book(label: str) -> str:
            booking = scheduler.book(
                tenant_id=TENANT, station_id=station_id, start=start, end=end, label=label
            )
            assert (booking.plant_id, booking.station_id) == (plant_id, station_id)
            assert (booking.start_time, booking.end_time) == (start, end)
            return booking.planned_downtime_id

        first = book("maintenance ticket t-1")
        assert book("maintenance ticket t-1") == first
        other = book("maintenance ticket t-2")
        assert other != first

        listed = call(
            stub.ListPlannedDowntimes,
            pb.ListPlannedDowntimesRequest(plant_id=plant_id),
            ctx=CallContext(tenant_id=TENANT),
            deadline_s=10,
        ).planned_downtimes
        assert sorted(d.id for d in listed) == sorted([first, other])
        assert {d.reason for d in listed} == {"maintenance ticket t-1", "maintenance ticket t-2"}

        booking = scheduler.book(
            tenant_id=TENANT, station_id=station_id, start=start, end=end, label="x"
        )
        assert scheduler.unbook(tenant_id=TENANT, booking=booking)
        assert scheduler.unbook(tenant_id=TENANT, booking=booking)  # gone already
        windows = scheduler.suggest_windows(
            tenant_id=TENANT,
            station_id=station_id,
            duration_s=3600,
            not_after=start + timedelta(hours=4),
            count=3,
        )
        # Nothing planned: three hours back to back from now, costing nothing.
        assert [w.displaced_operation_s for w in windows] == [0, 0, 0]
        assert [w.end_time - w.start_time for w in windows] == [timedelta(hours=1)] * 3
        assert windows[0].end_time == windows[1].start_time


def test_the_oee_per_shift_names_each_shift_and_leaves_undefined_figures_out(
    target: str,
) -> None:
    with open_channel(target) as channel:
        stub = ProductionServiceStub(channel)
        plant_id, station_id = station(stub)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        every_day = [1, 2, 3, 4, 5, 6, 7]
        call(
            stub.SetShiftCalendar,
            pb.SetShiftCalendarRequest(
                calendar=calendar_pb2.ShiftCalendar(
                    plant_id=plant_id,
                    shifts=[
                        calendar_pb2.ShiftPattern(
                            name="early",
                            days_of_week=every_day,
                            start_time="06:00",
                            end_time="14:00",
                        ),
                        calendar_pb2.ShiftPattern(
                            name="late",
                            days_of_week=every_day,
                            start_time="14:00",
                            end_time="22:00",
                        ),
                    ],
                ),
                effective_time=timestamp(today - timedelta(days=2)),
            ),
            ctx=CallContext(tenant_id=TENANT),
            deadline_s=10,
        )
        yesterday = today - timedelta(days=1)
        shifts = ProductionShiftKpis(channel).per_shift(
            tenant_id=TENANT,
            scope=AlarmScope(ScopeKind.STATION, station_id),
            start=yesterday + timedelta(hours=10),
            end=today,
        )
    assert [(s.name, s.start, s.end) for s in shifts] == [
        ("early", yesterday + timedelta(hours=10), yesterday + timedelta(hours=14)),
        ("late", yesterday + timedelta(hours=14), yesterday + timedelta(hours=22)),
    ]
    # Nothing ran: no time available, and no pieces to judge the quality of.
    assert [(s.availability, s.quality) for s in shifts] == [(0.0, None), (0.0, None)]
