"""Customized work orders and recipes: a routing step's recipe is a desired-state
patch, an order's own routing is what it is made with, and an operation with a
recipe runs (and takes counts) only once every machine of its station applied it."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from imcloud_core.errors import FailedPrecondition
from imcloud_production.domain import work_orders as orders
from imcloud_production.domain.catalog import RoutingStep, routing_violations
from imcloud_production.domain.work_orders import OperationState, RecipeDelivery, WorkOrderState
from tests.unit.production.test_work_orders import NOW, PRODUCT, planned, station

RECIPE = json.dumps({"spindle_rpm": 8000, "coolant": {"mode": "mist"}})
CUSTOM = (
    RoutingStep("mill", "milling", 600, 30, recipe_json=RECIPE),
    RoutingStep("grind", "grinding", 0, 20),
)


def customized() -> orders.WorkOrder:
    order = dataclasses.replace(planned(), routing=CUSTOM)
    return orders.released(order, PRODUCT, offered={"milling", "grinding"}, now=NOW)


def waiting(*machines: str) -> orders.WorkOrder:
    return orders.operation_started(
        customized(),
        1,
        station("milling"),
        busy_with=None,
        now=NOW,
        deliveries=[RecipeDelivery(m, desired_version=3) for m in machines],
    )


@pytest.mark.parametrize(
    ("recipe", "why"),
    [
        ("[1, 2]", "JSON object"),
        ('{"rpm": NaN}', "finite"),
        ('{"rpm": 1e999}', "finite"),
        ('{"1rpm": 5}', "property '1rpm'"),
        ("{not json", "JSON object"),
        (json.dumps({"a": "x" * 17_000}), "bytes"),
        ('{"a": [[[[[[[[[1]]]]]]]]]}', "levels"),
    ],
)
def test_a_recipe_that_is_no_desired_state_patch_is_refused_naming_its_step(
    recipe: str, why: str
) -> None:
    routing = (RoutingStep("mill", "milling", 0, 30), RoutingStep("x", "x", 0, 1, recipe))
    violations = routing_violations(routing)
    assert [v.field for v in violations] == ["routing[1].recipe_json"]
    assert why in violations[0].reason


def test_an_order_with_its_own_routing_is_released_with_it_and_its_recipes() -> None:
    order = customized()
    assert [o.name for o in order.operations] == ["mill", "grind"]
    assert order.operations[0].recipe_json == RECIPE
    assert order.operations[1].recipe_json == ""
    with pytest.raises(FailedPrecondition, match="grinding"):
        orders.released(
            dataclasses.replace(planned(), routing=CUSTOM), PRODUCT, offered={"milling"}, now=NOW
        )


def test_an_operation_with_a_recipe_needs_a_machine_to_take_it() -> None:
    with pytest.raises(FailedPrecondition, match="no machine to take the recipe"):
        waiting()


def test_it_runs_when_the_last_machine_applied_and_counts_only_then() -> None:
    order = waiting("m1", "m2")
    assert order.operation(1).state is OperationState.STARTING
    assert order.state is WorkOrderState.RELEASED, "the order runs when its operation does"
    assert orders.counted(order, 1, good=5, scrap=0, now=NOW) is order
    with pytest.raises(FailedPrecondition, match="recipe"):
        orders.counts_reported(order, 1, good=5, scrap=0, now=NOW)

    older = orders.recipe_applied(
        order, 1, equipment_id="m1", applied_version=2, now=NOW + timedelta(seconds=1)
    )
    assert older is order, "a version older than the recipe's is not the recipe"
    first = orders.recipe_applied(
        order, 1, equipment_id="m1", applied_version=3, now=NOW + timedelta(seconds=2)
    )
    assert first.operation(1).state is OperationState.STARTING
    again = orders.recipe_applied(
        first, 1, equipment_id="m1", applied_version=4, now=NOW + timedelta(seconds=3)
    )
    assert again is first, "applied once, applied"

    last = NOW + timedelta(seconds=4)
    running = orders.recipe_applied(first, 1, equipment_id="m2", applied_version=7, now=last)
    operation = running.operation(1)
    assert operation.state is OperationState.RUNNING
    assert operation.start_time == last
    assert [d.applied_time for d in operation.recipe_deliveries] == [
        NOW + timedelta(seconds=2),
        last,
    ]
    assert running.state is WorkOrderState.RUNNING
    assert running.start_time == last
    assert orders.counted(running, 1, good=5, scrap=1, now=NOW).operation(1).good_quantity == 5


def test_deliveries_applied_already_run_at_once_and_plain_operations_as_before() -> None:
    order = orders.operation_started(
        customized(),
        1,
        station("milling"),
        busy_with=None,
        now=NOW,
        deliveries=[RecipeDelivery("m1", desired_version=3, applied_time=NOW)],
    )
    assert order.operation(1).state is OperationState.RUNNING
    plain = orders.released(planned(), PRODUCT, offered={"milling", "grinding"}, now=NOW)
    started = orders.operation_started(plain, 1, station("milling"), busy_with=None, now=NOW)
    assert started.operation(1).state is OperationState.RUNNING
    assert started.operation(1).start_time == NOW
    assert started.operation(1).recipe_deliveries == ()


def test_a_customer_orders_counts_complete_it_and_other_orders_wait_for_an_operator() -> None:
    ordered = dataclasses.replace(planned(), customer_order_id="order-1")
    order = orders.released(ordered, PRODUCT, offered={"milling", "grinding"}, now=NOW)
    order = orders.operation_started(order, 1, station("milling"), busy_with=None, now=NOW)
    order = orders.counted(order, 1, good=99, scrap=3, now=NOW)
    assert order.operation(1).state is OperationState.RUNNING
    order = orders.counted(order, 1, good=1, scrap=0, now=NOW)
    assert order.operation(1).state is OperationState.DONE
    order = orders.operation_started(order, 2, station("grinding"), busy_with=None, now=NOW)
    later = NOW + timedelta(hours=1)
    order = orders.counts_reported(order, 2, good=100, scrap=0, now=later)
    assert order.state is WorkOrderState.COMPLETED
    assert order.end_time == later

    plain = orders.released(planned(), PRODUCT, offered={"milling", "grinding"}, now=NOW)
    plain = orders.operation_started(plain, 1, station("milling"), busy_with=None, now=NOW)
    assert orders.counted(plain, 1, good=150, scrap=0, now=NOW).operation(1).state is (
        OperationState.RUNNING
    )
