"""Work orders through their life, and the yields users read off them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from imcloud_core.errors import FailedPrecondition, InvalidArgument
from imcloud_production.domain import work_orders as orders
from imcloud_production.domain.catalog import Product, RoutingStep
from imcloud_production.domain.model import Station
from imcloud_production.domain.work_orders import WorkOrder, WorkOrderState

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
PRODUCT = Product(
    id="p1",
    tenant_id="t",
    part_number="GEAR-1",
    name="Gear",
    unit="pcs",
    routing=(RoutingStep("mill", "milling", 600, 30), RoutingStep("grind", "grinding", 0, 20)),
    bom=(),
    create_time=NOW,
)


def station(capability: str, **fields: object) -> Station:
    return Station(
        id=f"s-{capability}",
        tenant_id="t",
        line_id="l1",
        plant_id="plant",
        name=capability,
        description="",
        create_time=NOW,
        update_time=NOW,
        capabilities=(capability,),
        **fields,  # type: ignore[arg-type]
    )


def planned() -> WorkOrder:
    return WorkOrder(
        id="w1",
        tenant_id="t",
        plant_id="plant",
        product_id="p1",
        part_number="GEAR-1",
        quantity=100,
        due_time=NOW + timedelta(days=1),
        priority=1,
        state=WorkOrderState.PLANNED,
        create_time=NOW,
    )


def running() -> WorkOrder:
    order = orders.released(planned(), PRODUCT, offered={"milling", "grinding"}, now=NOW)
    return orders.operation_started(order, 1, station("milling"), busy_with=None, now=NOW)


def test_an_order_runs_in_routing_order_and_completes_with_its_last_operation() -> None:
    order = running()
    assert order.state is WorkOrderState.RUNNING
    with pytest.raises(FailedPrecondition):
        orders.released(order, PRODUCT, offered={"milling", "grinding"}, now=NOW)
    order = orders.operation_started(order, 2, station("grinding"), busy_with=None, now=NOW)
    order = orders.operation_completed(order, 1, now=NOW)
    assert order.state is WorkOrderState.RUNNING
    order = orders.operation_completed(order, 2, now=NOW)
    assert order.state is WorkOrderState.COMPLETED
    with pytest.raises(FailedPrecondition):
        orders.cancelled(order, reason="too late", now=NOW)


def test_a_station_takes_its_own_ideal_cycle_for_the_part() -> None:
    order = orders.released(planned(), PRODUCT, offered={"milling", "grinding"}, now=NOW)
    fast = station("milling", ideal_cycle_times={"GEAR-1": 24.0})
    started = orders.operation_started(order, 1, fast, busy_with=None, now=NOW)
    assert started.operation(1).ideal_cycle_time_s == 24.0


def test_release_needs_a_station_for_every_step_and_start_a_capable_idle_station() -> None:
    with pytest.raises(FailedPrecondition, match="grinding"):
        orders.released(planned(), PRODUCT, offered={"milling"}, now=NOW)
    order = orders.released(planned(), PRODUCT, offered={"milling", "grinding"}, now=NOW)
    with pytest.raises(InvalidArgument) as wrong:
        orders.operation_started(order, 1, station("grinding"), busy_with=None, now=NOW)
    assert [v.field for v in wrong.value.violations] == ["station_id"]
    with pytest.raises(FailedPrecondition, match="busy"):
        orders.operation_started(order, 1, station("milling"), busy_with="busy", now=NOW)
    with pytest.raises(FailedPrecondition, match="routing order"):
        orders.operation_started(order, 2, station("grinding"), busy_with=None, now=NOW)


def test_operator_totals_only_grow() -> None:
    order = orders.counts_reported(running(), 1, good=10, scrap=1, now=NOW)
    with pytest.raises(InvalidArgument) as refused:
        orders.counts_reported(order, 1, good=9, scrap=-1, now=NOW)
    assert [v.field for v in refused.value.violations] == ["good_quantity", "scrap_quantity"]


def test_first_pass_yield_multiplies_the_steps_yields() -> None:
    order = orders.counted(running(), 1, good=90, scrap=10, now=NOW)
    order = orders.operation_started(order, 2, station("grinding"), busy_with=None, now=NOW)
    order = orders.counted(order, 2, good=81, scrap=9, now=NOW)
    assert order.first_pass_yield == pytest.approx(0.9 * 0.9)
    other = orders.counted(running(), 1, good=100, scrap=0, now=NOW)
    # Step 1 over both orders: 190 of 200; step 2 only counted in the first: 81 of 90.
    assert orders.first_pass_yield([order, other]) == pytest.approx(190 / 200 * 81 / 90)
    assert orders.first_pass_yield([planned()]) is None
    assert dataclasses.replace(order, operations=()).first_pass_yield is None
