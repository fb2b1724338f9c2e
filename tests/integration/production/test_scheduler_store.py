"""The scheduler through production's store, on SQLite and PostgreSQL: released
orders get a schedule and explained ETAs, a station going down moves its
operations and says why, and what cannot be planned says so."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

import pytest

from imcloud_core.errors import FailedPrecondition
from imcloud_production.domain import floor, planning, schedules, services
from imcloud_production.domain.calendar import Calendar, ShiftPattern
from imcloud_production.domain.catalog import EquipmentState, Product, RoutingStep
from imcloud_production.domain.scheduling.plan import TriggerKind
from imcloud_production.domain.tracking import Track
from imcloud_production.settings import SchedulingSettings
from tests.unit.production.harness import FakeMachines, ProductionStore

TENANT = "tenant-scheduling"
SETTINGS = SchedulingSettings(time_limit_s=3, repair_time_limit_s=1, frozen_horizon_s=0)


@pytest.fixture
def plant(store: ProductionStore) -> dict[str, str]:
    uow = store.unit_of_work
    plant = services.create_plant(
        uow(), tenant_id=TENANT, name="Works", location="", time_zone="UTC"
    )
    line = services.create_line(
        uow(), tenant_id=TENANT, plant_id=plant.id, name="L1", description=""
    )
    ids = {"plant": plant.id, "line": line.id}
    for name, capabilities in [
        ("Mill 1", ["milling"]),
        ("Mill 2", ["milling"]),
        ("Drill", ["drilling"]),
    ]:
        station = services.create_station(
            uow(),
            tenant_id=TENANT,
            line_id=line.id,
            name=name,
            description="",
            capabilities=capabilities,
            ideal_cycle_time_s=60,
        )
        ids[name] = station.id
    # Around the clock but for one hour a day: windows, not an open end. The hour off is
    # half a day away, so that what the tests plan in the next hours never meets it.
    off = (datetime.now(UTC).hour + 12) % 24
    planning.set_calendar(
        uow(),
        tenant_id=TENANT,
        calendar=Calendar(
            plant_id=plant.id,
            time_zone="",
            shifts=(
                ShiftPattern("day", (1, 2, 3, 4, 5, 6, 7), time((off + 1) % 24), time(off), ()),
            ),
            holidays=(),
        ),
    )
    product = planning.create_product(
        uow(),
        product=Product(
            id="",
            tenant_id=TENANT,
            part_number="BRACKET",
            name="Bracket",
            unit="pcs",
            routing=(
                RoutingStep("mill", "milling", setup_time_s=300, ideal_cycle_time_s=60),
                RoutingStep("drill", "drilling", setup_time_s=60, ideal_cycle_time_s=30),
            ),
            bom=(),
            create_time=datetime.now(UTC),
        ),
    )
    ids["product"] = product.id
    return ids


def released(store: ProductionStore, plant: dict[str, str], quantity: float, due_h: float) -> str:
    order = floor.create_work_order(
        store.unit_of_work(),
        tenant_id=TENANT,
        product_id=plant["product"],
        plant_id=plant["plant"],
        quantity=quantity,
        due_time=datetime.now(UTC) + timedelta(hours=due_h),
        priority=0,
        note="",
    )
    floor.release_work_order(store.unit_of_work(), tenant_id=TENANT, work_order_id=order.id)
    return order.id


def schedule_now(store: ProductionStore, plant: dict[str, str]) -> schedules.PlantSchedule:
    schedules.plan_requested(store.unit_of_work, SETTINGS)
    schedule = schedules.get_schedule(
        store.unit_of_work(), tenant_id=TENANT, plant_id=plant["plant"]
    )
    assert schedule is not None
    return schedule


def test_released_orders_get_a_schedule_with_an_explained_eta_each(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    orders = [released(store, plant, quantity=30, due_h=2 + i) for i in range(4)]
    schedule = schedule_now(store, plant)

    assert schedule.revision == 1
    assert {(o.work_order_id, o.sequence) for o in schedule.operations} == {
        (order, sequence) for order in orders for sequence in (1, 2)
    }
    stations = {o.station_id for o in schedule.operations if o.sequence == 1}
    assert stations == {plant["Mill 1"], plant["Mill 2"]}, "both mills share the milling"
    kinds = [t.kind for t in schedule.triggers]
    assert kinds.count(TriggerKind.WORK_ORDER_RELEASED) == 4, kinds
    for order in orders:
        eta = schedules.get_eta(store.unit_of_work(), tenant_id=TENANT, work_order_id=order)
        assert eta.end_time == max(o.end for o in schedule.operations if o.work_order_id == order)
        assert f"work order {order} released" in eta.explanation
    assert "schedule.changed" in store.event_types()
    # Nothing new happened: nothing to plan.
    schedules.plan_requested(store.unit_of_work, SETTINGS)
    again = schedules.get_schedule(store.unit_of_work(), tenant_id=TENANT, plant_id=plant["plant"])
    assert again is not None
    assert again.revision == 1


def test_a_station_going_down_moves_its_operations_and_the_etas_say_why(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    orders = [released(store, plant, quantity=30, due_h=1.5) for _ in range(4)]
    before = schedule_now(store, plant)
    on_mill_1 = {o.work_order_id for o in before.operations if o.station_id == plant["Mill 1"]}
    assert on_mill_1

    went_down = datetime.now(UTC) - timedelta(seconds=30)
    with store.unit_of_work() as uow:
        uow.tracks.save(
            [
                Track(
                    TENANT,
                    "machine-1",
                    plant["Mill 1"],
                    state=EquipmentState.DOWN,
                    since_ms=int(went_down.timestamp() * 1000),
                )
            ]
        )
    schedules.watch(store.unit_of_work, SETTINGS)
    after = schedule_now(store, plant)

    assert after.revision == 2
    assert plant["Mill 1"] in after.down_stations
    blocked_until = after.compute_time + timedelta(seconds=SETTINGS.station_down_assumed_s)
    assert not [
        o
        for o in after.operations
        if o.station_id == plant["Mill 1"] and o.setup_start < blocked_until
    ], "nothing runs on the mill while it is assumed down"
    moved = [
        order for order in orders if after.etas[order].revision == 2 and after.etas[order].moved
    ]
    assert moved, "the mill's orders moved"
    for order in moved:
        eta = after.etas[order]
        assert [t.kind for t in eta.triggers] == [TriggerKind.STATION_DOWN]
        assert "station Mill 1 went down" in eta.explanation
        assert eta.previous_end_time == before.etas[order].end_time
    late = [after.etas[order] for order in orders if after.etas[order].lateness_s > 0]
    assert late, "four orders on one mill are late"
    assert all("Late by" in eta.explanation for eta in late)

    # Back up: planned again, the mill used again.
    with store.unit_of_work() as uow:
        uow.tracks.save(
            [Track(TENANT, "machine-1", plant["Mill 1"], state=EquipmentState.RUNNING, since_ms=0)]
        )
    schedules.watch(store.unit_of_work, SETTINGS)
    back = schedule_now(store, plant)
    assert back.revision == 3
    assert not back.down_stations
    assert TriggerKind.STATION_BACK in {t.kind for t in back.triggers}


def test_a_cancelled_order_leaves_the_schedule_and_a_quote_changes_nothing(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    kept, dropped = (released(store, plant, quantity=20, due_h=4) for _ in range(2))
    first = schedule_now(store, plant)
    floor.cancel_work_order(
        store.unit_of_work(), tenant_id=TENANT, work_order_id=dropped, reason="customer"
    )
    second = schedule_now(store, plant)
    assert second.revision == first.revision + 1
    assert {o.work_order_id for o in second.operations} == {kept}
    with pytest.raises(FailedPrecondition, match="cancelled"):
        schedules.get_eta(store.unit_of_work(), tenant_id=TENANT, work_order_id=dropped)

    quote = schedules.quote(
        store.unit_of_work,
        SETTINGS,
        tenant_id=TENANT,
        plant_id=plant["plant"],
        product_id=plant["product"],
        quantity=10,
        due_time=None,
        priority=0,
    )
    assert quote.eta.end_time > datetime.now(UTC)
    assert [o.sequence for o in quote.operations] == [1, 2]
    assert quote.eta.end_time == quote.operations[-1].end
    assert quote.eta.lateness_s == 0
    assert "due time" not in quote.eta.explanation, "an order without one is never late"
    unchanged = schedules.get_schedule(
        store.unit_of_work(), tenant_id=TENANT, plant_id=plant["plant"]
    )
    assert unchanged is not None
    assert unchanged.revision == second.revision


def test_what_cannot_be_planned_is_refused_or_left_out_with_its_reason(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    order = floor.create_work_order(
        store.unit_of_work(),
        tenant_id=TENANT,
        product_id=plant["product"],
        plant_id=plant["plant"],
        quantity=5,
        due_time=datetime.now(UTC) - timedelta(minutes=1),
        priority=0,
        note="",
    )
    with pytest.raises(FailedPrecondition, match="before its release"):
        floor.release_work_order(store.unit_of_work(), tenant_id=TENANT, work_order_id=order.id)

    # 2,000 units at 60 s each: no 23-hour window holds the milling.
    too_long = released(store, plant, quantity=2000, due_h=200)
    fine = released(store, plant, quantity=5, due_h=5)
    schedule = schedule_now(store, plant)
    assert "no working window" in schedule.unscheduled[too_long]
    assert "operation 1 (mill)" in schedule.unscheduled[too_long]
    assert fine in schedule.etas
    with pytest.raises(FailedPrecondition, match="cannot be scheduled"):
        schedules.get_eta(store.unit_of_work(), tenant_id=TENANT, work_order_id=too_long)


def test_a_started_operation_stays_and_a_slow_one_is_planned_for(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    order = released(store, plant, quantity=30, due_h=3)
    other = released(store, plant, quantity=30, due_h=3)
    schedule_now(store, plant)
    floor.start_operation(
        store.unit_of_work(),
        FakeMachines(),
        tenant_id=TENANT,
        work_order_id=order,
        sequence=1,
        station_id=plant["Mill 2"],
    )
    started = schedule_now(store, plant)
    first = started.operation(order, 1)
    assert first is not None
    assert first.started
    assert first.frozen
    assert first.station_id == plant["Mill 2"]
    assert TriggerKind.OPERATION_STARTED in {t.kind for t in started.triggers}
    assert all(
        o.station_id != plant["Mill 2"] or o.setup_start >= first.end or o is first
        for o in started.operations
    ), "nothing else on the mill while it runs the started operation"
    assert started.operation(other, 1) is not None

    # 30 units at 60 s after a 5 min setup: 35 min as planned. Four good units in
    # the 15 minutes after the setup, one per 3.75 min, is far slower.
    with store.unit_of_work() as uow:
        running = uow.work_orders.get(tenant_id=TENANT, work_order_id=order)
        assert running is not None
        operation = running.operations[0]
        assert operation.start_time is not None
        slow = running.with_operation(
            dataclasses.replace(
                operation,
                start_time=operation.start_time - timedelta(minutes=20),
                good_quantity=4,
            )
        )
        uow.work_orders.update(slow)
    schedules.watch(store.unit_of_work, SETTINGS)
    slower = schedule_now(store, plant)
    assert [t.kind for t in slower.triggers] == [TriggerKind.SLOWER_THAN_PLANNED]
    projected = slower.operation(order, 1)
    assert projected is not None
    # 26 more units at one per 3.75 min.
    assert projected.end - slower.compute_time == pytest.approx(
        timedelta(minutes=26 * 3.75), abs=timedelta(seconds=5)
    )
    assert "slower than planned: 4 of 30 good" in slower.etas[order].explanation
