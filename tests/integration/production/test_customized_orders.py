"""Customer orders through production's store, on SQLite and PostgreSQL: an
order placed in servitization becomes a released work order with its own BOM and
routing (once, however often it is delivered), a cancelled one cancels it, an
order production cannot make is dead-lettered; an operation with a recipe waits
for the station's machines to apply it before it runs and takes counts, and the
counts complete the order; a quote plans the routing it is given."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from imcloud.production.v1 import catalog_pb2
from imcloud.products.v1 import events_pb2 as products_events
from imcloud.servitization.v1 import customization_pb2
from imcloud_core.bus import OutgoingRecord, Record
from imcloud_core.bus.delivery import Delivery
from imcloud_core.convert import timestamp
from imcloud_core.errors import FailedPrecondition, InvalidArgument, Unavailable
from imcloud_core.events import Topic, new_envelope
from imcloud_production.domain import floor, monitoring, planning, schedules, services
from imcloud_production.domain.catalog import Product, RoutingStep
from imcloud_production.domain.execution import Placement
from imcloud_production.domain.ports import AppliedRecipe
from imcloud_production.domain.work_orders import OperationState, WorkOrder, WorkOrderState
from imcloud_production.events.machines import UnreadableRecord, recipe_handler
from imcloud_production.events.orders import order_handler
from imcloud_production.settings import SchedulingSettings
from tests.unit.production.harness import FakeMachines, ProductionStore

TENANT = "tenant-custom"
RECIPE = {"spindle_rpm": 8000, "finish": "matte"}


@pytest.fixture
def plant(store: ProductionStore) -> dict[str, str]:
    uow = store.unit_of_work
    plant = services.create_plant(uow(), tenant_id=TENANT, name="Works", location="", time_zone="")
    line = services.create_line(
        uow(), tenant_id=TENANT, plant_id=plant.id, name="L1", description=""
    )
    ids = {"plant": plant.id}
    for name, capability in [("Mill", "milling"), ("Paint", "painting")]:
        ids[name] = services.create_station(
            uow(),
            tenant_id=TENANT,
            line_id=line.id,
            name=name,
            description="",
            capabilities=[capability],
            ideal_cycle_time_s=60,
        ).id
    ids["product"] = planning.create_product(
        uow(),
        product=Product(
            id="",
            tenant_id=TENANT,
            part_number="BIKE",
            name="Bike",
            unit="pcs",
            routing=(RoutingStep("mill", "milling", 60, 30),),
            bom=(),
            create_time=datetime.now(UTC),
        ),
    ).id
    for machine, station in [("mill-a", "Mill"), ("mill-b", "Mill")]:
        monitoring.place_equipment(
            uow(), Placement(TENANT, machine, "model", ids[station], datetime.now(UTC))
        )
    return ids


def placed(
    plant: dict[str, str],
    order_id: str = "order-1",
    *,
    routing: Sequence[catalog_pb2.RoutingStep] | None = None,
    tenant_id: str = TENANT,
    due: timedelta = timedelta(days=3),
) -> Record:
    message = customization_pb2.OrderPlaced(
        order=customization_pb2.CustomerOrder(
            id=order_id,
            quantity=4,
            customer_reference="PO 4711",
            plant_id=plant["plant"],
            promised_time=timestamp(datetime.now(UTC) + due),
        ),
        product_id=plant["product"],
        bom=[catalog_pb2.BomLine(component_part_number="FRAME-C", quantity=1, unit="pcs")],
        routing=routing
        if routing is not None
        else [
            catalog_pb2.RoutingStep(
                name="mill carbon",
                capability="milling",
                setup_time_s=60,
                ideal_cycle_time_s=120,
                recipe_json=json.dumps(RECIPE),
            ),
        ],
    )
    return _record(tenant_id, "order.placed", message, order_id)


def cancelled(order_id: str, reason: str = "customer changed their mind") -> Record:
    message = customization_pb2.OrderCancelled(order_id=order_id, reason=reason)
    return _record(TENANT, "order.cancelled", message, order_id)


def applied(equipment_id: str, version: int) -> Record:
    message = products_events.DesiredStateApplied(
        equipment_id=equipment_id, applied_version=version
    )
    return _record(TENANT, "desired_state.applied", message, equipment_id)


def _record(tenant_id: str, event_type: str, message: object, key: str) -> Record:
    envelope = new_envelope(
        tenant_id=tenant_id,
        event_type=event_type,
        payload=message,  # type: ignore[arg-type]
        source="test",
    )
    return Record(Topic.ORDERS, 0, 0, key, envelope.SerializeToString())


def work_orders(store: ProductionStore) -> list[WorkOrder]:
    found, _ = floor.list_work_orders(
        store.unit_of_work(),
        tenant_id=TENANT,
        states=(),
        plant_id="",
        requested_page_size=100,
        page_token="",
    )
    return found


def order_of(store: ProductionStore, customer_order_id: str = "order-1") -> WorkOrder:
    with store.unit_of_work() as uow:
        order = uow.work_orders.of_customer_order(
            tenant_id=TENANT, customer_order_id=customer_order_id
        )
    assert order is not None
    return order


def test_a_placed_order_is_released_once_with_its_own_bom_and_routing(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    handle = order_handler(store.unit_of_work)
    handle([placed(plant)])

    order = order_of(store)
    assert order.state is WorkOrderState.RELEASED
    assert order.product_id == plant["product"]
    assert order.quantity == 4
    assert "PO 4711" in order.note
    assert [line.component_part_number for line in order.bom] == ["FRAME-C"]
    assert [(o.name, json.loads(o.recipe_json)) for o in order.operations] == [
        ("mill carbon", RECIPE)
    ], "the order's routing, not the product's"
    assert store.event_types()[-2:] == ["work_order.created", "work_order.released"]

    events = len(store.event_types())
    handle([placed(plant), placed(plant)])
    assert [o.id for o in work_orders(store)] == [order.id], "a redelivery creates nothing"
    assert len(store.event_types()) == events


def test_an_order_that_cannot_be_released_stays_planned_and_says_why(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    welding = [catalog_pb2.RoutingStep(name="weld", capability="welding", ideal_cycle_time_s=5)]
    order_handler(store.unit_of_work)([placed(plant, routing=welding)])

    order = order_of(store)
    assert order.state is WorkOrderState.PLANNED
    assert "not released" in order.note
    assert "welding" in order.note
    assert store.event_types()[-1] == "work_order.created"


def test_an_order_production_cannot_make_is_dead_lettered_and_the_rest_go_through(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    other_tenants = placed(plant, "order-2", tenant_id="tenant-other")
    unreadable = Record(Topic.ORDERS, 0, 1, "x", b"\x00not an envelope")
    bad_recipe = placed(
        plant,
        "order-3",
        routing=[
            catalog_pb2.RoutingStep(
                name="mill", capability="milling", ideal_cycle_time_s=5, recipe_json="[1]"
            )
        ],
    )
    handle = order_handler(store.unit_of_work)
    for poison in (other_tenants, unreadable, bad_recipe):
        with pytest.raises(UnreadableRecord):
            handle([poison])

    letters: list[OutgoingRecord] = []
    delivery = Delivery(
        group="test", handler=handle, publish=letters.extend, stopping=threading.Event(), attempts=1
    )
    assert delivery.deliver([other_tenants, placed(plant), unreadable])
    assert {r.topic for r in letters} == {f"{Topic.ORDERS}.dlq"}
    assert len(letters) == 2
    assert [o.customer_order_id for o in work_orders(store)] == ["order-1"]


def test_a_cancelled_order_cancels_its_open_work_order_and_nothing_else(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    handle = order_handler(store.unit_of_work)
    handle([placed(plant), cancelled("order-1")])

    order = order_of(store)
    assert order.state is WorkOrderState.CANCELLED
    assert order.cancel_reason == "customer changed their mind"
    events = len(store.event_types())
    handle([cancelled("order-1"), cancelled("order-unknown")])
    assert len(store.event_types()) == events
    assert order_of(store).state is WorkOrderState.CANCELLED


def start(store: ProductionStore, plant: dict[str, str], machines: FakeMachines) -> WorkOrder:
    return floor.start_operation(
        store.unit_of_work(),
        machines,
        tenant_id=TENANT,
        work_order_id=order_of(store).id,
        sequence=1,
        station_id=plant["Mill"],
    )


def test_a_recipe_reaches_every_machine_and_the_operation_runs_once_they_applied_it(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    order_handler(store.unit_of_work)([placed(plant)])
    machines = FakeMachines()
    started = start(store, plant, machines)

    assert machines.recipes == {"mill-a": [json.dumps(RECIPE)], "mill-b": [json.dumps(RECIPE)]}
    operation = started.operation(1)
    assert operation.state is OperationState.STARTING
    assert operation.start_time is None
    assert [
        (d.equipment_id, d.desired_version, d.applied_time) for d in operation.recipe_deliveries
    ] == [
        ("mill-a", 1, None),
        ("mill-b", 1, None),
    ]
    assert started.state is WorkOrderState.RELEASED

    def count(good: float) -> None:
        with store.unit_of_work() as uow:
            floor.counted_at_stations(uow, {plant["Mill"]: (good, 0.0)}, now=datetime.now(UTC))

    count(3)
    assert order_of(store).operation(1).good_quantity == 0, "no counts before the recipe runs"

    handle = recipe_handler(store.unit_of_work)
    handle([applied("mill-a", 1)])
    assert order_of(store).operation(1).state is OperationState.STARTING
    handle([applied("mill-b", 1)])
    running = order_of(store)
    operation = running.operation(1)
    assert operation.state is OperationState.RUNNING
    assert operation.start_time == max(d.applied_time for d in operation.recipe_deliveries)  # type: ignore[type-var]
    assert running.state is WorkOrderState.RUNNING
    assert store.event_types()[-1] == "work_order.started"

    events = len(store.event_types())
    handle([applied("mill-a", 1), applied("mill-b", 1)])
    assert len(store.event_types()) == events, "a redelivered apply changes nothing"
    count(3)
    assert order_of(store).operation(1).good_quantity == 3
    count(1)
    done = order_of(store)
    assert done.state is WorkOrderState.COMPLETED, "a customer order's counts complete it"
    assert store.event_types()[-1] == "work_order.completed"
    with store.unit_of_work() as uow:
        assert uow.running_operations.at([plant["Mill"]]) == {}


class ApplyingMeanwhile(FakeMachines):
    """Machines that apply the recipe, and say so, before the start is stored."""

    def __init__(self, store: ProductionStore) -> None:
        super().__init__()
        self._handle = recipe_handler(store.unit_of_work)

    def apply(self, *, tenant_id: str, equipment_id: str, recipe_json: str) -> AppliedRecipe:
        given = super().apply(
            tenant_id=tenant_id, equipment_id=equipment_id, recipe_json=recipe_json
        )
        self._handle([applied(equipment_id, given.desired_version)])
        return given


def test_machines_that_applied_already_let_the_operation_run_at_once(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    order_handler(store.unit_of_work)([placed(plant)])
    started = start(store, plant, ApplyingMeanwhile(store))
    assert started.operation(1).state is OperationState.RUNNING
    assert started.state is WorkOrderState.RUNNING


def test_a_recipe_needs_a_machine_at_the_station_and_the_machines_owner(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    order_handler(store.unit_of_work)([placed(plant)])
    machines = FakeMachines()
    machines.down = True
    with pytest.raises(Unavailable):
        start(store, plant, machines)
    assert order_of(store).operation(1).state is OperationState.PENDING
    with store.unit_of_work() as uow:
        assert uow.running_operations.at([plant["Mill"]]) == {}

    monitoring.remove_equipment(store.unit_of_work(), equipment_id="mill-a")
    monitoring.remove_equipment(store.unit_of_work(), equipment_id="mill-b")
    with pytest.raises(FailedPrecondition, match="has no machine to take the recipe"):
        start(store, plant, FakeMachines())
    assert order_of(store).operation(1).state is OperationState.PENDING


def test_a_quote_plans_the_routing_it_is_given(
    store: ProductionStore, plant: dict[str, str]
) -> None:
    settings = SchedulingSettings(time_limit_s=2, repair_time_limit_s=1)

    def quote(routing: tuple[RoutingStep, ...]) -> schedules.Quote:
        return schedules.quote(
            store.unit_of_work,
            settings,
            tenant_id=TENANT,
            plant_id=plant["plant"],
            product_id=plant["product"],
            quantity=10,
            due_time=None,
            priority=0,
            routing=routing,
        )

    custom = quote((RoutingStep("mill", "milling", 0, 30), RoutingStep("paint", "painting", 0, 30)))
    assert [(o.name, o.station_id) for o in custom.operations] == [
        ("mill", plant["Mill"]),
        ("paint", plant["Paint"]),
    ]
    assert [o.name for o in quote(()).operations] == ["mill"], "without one: the product's"
    with pytest.raises(InvalidArgument) as invalid:
        quote((RoutingStep("mill", "milling", 0, 0),))
    assert [v.field for v in invalid.value.violations] == ["routing[0].ideal_cycle_time_s"]
    with pytest.raises(FailedPrecondition, match="welding"):
        quote((RoutingStep("weld", "welding", 0, 30),))
