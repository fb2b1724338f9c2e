"""Work orders: what is to be made, where, and how it is going.

planned -> released -> running -> completed, and cancelled from any of the first
three. An operation goes pending -> running -> done; one with a recipe goes
through starting first, until every machine of its station applied the recipe.
A transition that is not allowed is a FailedPrecondition (409), never a silent
no-op, so a client that retries learns where the order really is.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from imcloud_core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from imcloud_production.domain.catalog import (
    BomLine,
    Product,
    RoutingStep,
    bom_violations,
    routing_violations,
)
from imcloud_production.domain.model import Station

QUANTITY_MAX = 1e9
PRIORITY_MAX = 1000
NOTE_MAX = 2000
REASON_MAX = 500
CUSTOMER_ORDER_ID_MAX = 100


class WorkOrderState(StrEnum):
    PLANNED = "planned"
    RELEASED = "released"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class OperationState(StrEnum):
    PENDING = "pending"
    # At its station, waiting for the station's machines to apply its recipe.
    STARTING = "starting"
    RUNNING = "running"
    DONE = "done"


OPEN = frozenset({WorkOrderState.PLANNED, WorkOrderState.RELEASED, WorkOrderState.RUNNING})


@dataclass(frozen=True)
class RecipeDelivery:
    """An operation's recipe on one machine of its station."""

    equipment_id: str
    # The machine's desired version that holds the recipe.
    desired_version: int
    applied_time: datetime | None = None


@dataclass(frozen=True)
class Operation:
    sequence: int
    name: str
    capability: str
    setup_time_s: float
    ideal_cycle_time_s: float
    station_id: str = ""
    state: OperationState = OperationState.PENDING
    good_quantity: float = 0.0
    scrap_quantity: float = 0.0
    # When it runs: for one with a recipe, when the last machine applied it.
    start_time: datetime | None = None
    end_time: datetime | None = None
    recipe_json: str = ""
    recipe_deliveries: tuple[RecipeDelivery, ...] = ()

    @property
    def at_station(self) -> bool:
        """Started and not done: it holds its station."""
        return self.state in (OperationState.STARTING, OperationState.RUNNING)


@dataclass(frozen=True)
class WorkOrder:
    id: str
    tenant_id: str
    plant_id: str
    product_id: str
    part_number: str
    quantity: float
    due_time: datetime
    priority: int
    state: WorkOrderState
    create_time: datetime
    note: str = ""
    cancel_reason: str = ""
    operations: tuple[Operation, ...] = ()
    release_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    # The customer order (servitization) it makes; "" for others.
    customer_order_id: str = ""
    # Its own BOM and routing (a customized product's); empty: the product's.
    bom: tuple[BomLine, ...] = ()
    routing: tuple[RoutingStep, ...] = ()

    @property
    def good_quantity(self) -> float:
        return self.operations[-1].good_quantity if self.operations else 0.0

    @property
    def scrap_quantity(self) -> float:
        return sum(o.scrap_quantity for o in self.operations)

    @property
    def first_pass_yield(self) -> float | None:
        """The product of the operations' yields; None before anything is counted."""
        counted = [o for o in self.operations if o.good_quantity + o.scrap_quantity > 0]
        if not counted:
            return None
        return math.prod(o.good_quantity / (o.good_quantity + o.scrap_quantity) for o in counted)

    def operation(self, sequence: int) -> Operation:
        if not 1 <= sequence <= len(self.operations):
            raise InvalidArgument(
                f"work order {self.id!r} has no operation {sequence}",
                violations=(FieldViolation("sequence", f"1..{len(self.operations)}"),),
            )
        return self.operations[sequence - 1]

    def with_operation(self, operation: Operation) -> WorkOrder:
        operations = list(self.operations)
        operations[operation.sequence - 1] = operation
        return dataclasses.replace(self, operations=tuple(operations))


def first_pass_yield(orders: Iterable[WorkOrder]) -> float | None:
    """A product's first-pass yield over its orders: per routing step, good over
    good + scrap summed across the orders, multiplied over the steps."""
    good: dict[int, float] = {}
    made: dict[int, float] = {}
    for order in orders:
        for operation in order.operations:
            good[operation.sequence] = good.get(operation.sequence, 0.0) + operation.good_quantity
            made[operation.sequence] = (
                made.get(operation.sequence, 0.0)
                + operation.good_quantity
                + operation.scrap_quantity
            )
    counted = [step for step, units in made.items() if units > 0]
    if not counted:
        return None
    return math.prod(good[step] / made[step] for step in counted)


def checked_new(order: WorkOrder) -> WorkOrder:
    violations = [
        *routing_violations(order.routing),
        *bom_violations(order.bom, part_number=order.part_number),
    ]
    if len(order.customer_order_id) > CUSTOMER_ORDER_ID_MAX:
        violations.append(
            FieldViolation("customer_order_id", f"at most {CUSTOMER_ORDER_ID_MAX} characters")
        )
    if not 0 < order.quantity <= QUANTITY_MAX:
        violations.append(FieldViolation("quantity", "over 0, at most 1e9"))
    if not 0 <= order.priority <= PRIORITY_MAX:
        violations.append(FieldViolation("priority", f"0..{PRIORITY_MAX}"))
    if len(order.note) > NOTE_MAX:
        violations.append(FieldViolation("note", f"at most {NOTE_MAX} characters"))
    if violations:
        raise InvalidArgument("the work order is not valid", violations=tuple(violations))
    return order


def released(order: WorkOrder, product: Product, *, offered: set[str], now: datetime) -> WorkOrder:
    """The order on the shop floor with its routing (its own, else the product's)
    copied as it is now."""
    _require(order, {WorkOrderState.PLANNED}, "released")
    routing = order.routing or product.routing
    missing = [s for s in routing if s.capability not in offered]
    if missing:
        raise FailedPrecondition(
            f"no station of plant {order.plant_id!r} offers {missing[0].capability!r}, "
            f"which routing step {missing[0].name!r} needs"
        )
    operations = tuple(
        Operation(
            sequence=index + 1,
            name=step.name,
            capability=step.capability,
            setup_time_s=step.setup_time_s,
            ideal_cycle_time_s=step.ideal_cycle_time_s,
            recipe_json=step.recipe_json,
        )
        for index, step in enumerate(routing)
    )
    return dataclasses.replace(
        order, state=WorkOrderState.RELEASED, operations=operations, release_time=now
    )


def startable(
    order: WorkOrder, sequence: int, station: Station, *, busy_with: str | None
) -> Operation:
    """The operation, if it may start at ``station`` now; ``busy_with`` names what
    the station is running already, if anything."""
    _require(order, {WorkOrderState.RELEASED, WorkOrderState.RUNNING}, "started")
    operation = order.operation(sequence)
    if operation.state is not OperationState.PENDING:
        raise FailedPrecondition(f"operation {sequence} is {operation.state}, not pending")
    if sequence > 1 and order.operations[sequence - 2].state is OperationState.PENDING:
        raise FailedPrecondition(
            f"operation {sequence - 1} has not started; operations run in routing order"
        )
    if operation.capability not in station.capabilities:
        raise InvalidArgument(
            f"station {station.id!r} does not offer {operation.capability!r}",
            violations=(FieldViolation("station_id", f"does not offer {operation.capability!r}"),),
        )
    if station.plant_id != order.plant_id:
        raise InvalidArgument(
            f"station {station.id!r} is not in the work order's plant",
            violations=(FieldViolation("station_id", "not in the work order's plant"),),
        )
    if busy_with is not None:
        raise FailedPrecondition(
            f"station {station.id!r} is running {busy_with}; complete it first"
        )
    return operation


def operation_started(
    order: WorkOrder,
    sequence: int,
    station: Station,
    *,
    busy_with: str | None,
    now: datetime,
    deliveries: Sequence[RecipeDelivery] = (),
) -> WorkOrder:
    """An operation with a recipe starts with its ``deliveries``, one per machine of
    the station, and runs once they are all applied (perhaps already)."""
    operation = startable(order, sequence, station, busy_with=busy_with)
    if operation.recipe_json and not deliveries:
        raise FailedPrecondition(f"station {station.id!r} has no machine to take the recipe")
    started = dataclasses.replace(
        operation,
        station_id=station.id,
        state=OperationState.STARTING,
        ideal_cycle_time_s=station.ideal_cycle_for(order.part_number, operation.ideal_cycle_time_s),
        recipe_deliveries=tuple(deliveries),
    )
    return _running_when_applied(order.with_operation(started), sequence, now=now)


def recipe_applied(
    order: WorkOrder, sequence: int, *, equipment_id: str, applied_version: int, now: datetime
) -> WorkOrder:
    """The machine applied its desired state up to ``applied_version``: the
    operation's delivery to it, if it holds an older or equal version, is applied."""
    operation = order.operation(sequence)
    if operation.state is not OperationState.STARTING:
        return order
    deliveries = tuple(
        dataclasses.replace(d, applied_time=now)
        if d.equipment_id == equipment_id
        and d.applied_time is None
        and d.desired_version <= applied_version
        else d
        for d in operation.recipe_deliveries
    )
    if deliveries == operation.recipe_deliveries:
        return order
    order = order.with_operation(dataclasses.replace(operation, recipe_deliveries=deliveries))
    return _running_when_applied(order, sequence, now=now)


def _running_when_applied(order: WorkOrder, sequence: int, *, now: datetime) -> WorkOrder:
    """Runs the starting operation if every machine applied its recipe; then the
    order runs too."""
    operation = order.operation(sequence)
    if any(d.applied_time is None for d in operation.recipe_deliveries):
        return order
    order = order.with_operation(
        dataclasses.replace(operation, state=OperationState.RUNNING, start_time=now)
    )
    if order.state is WorkOrderState.RELEASED:
        order = dataclasses.replace(order, state=WorkOrderState.RUNNING, start_time=now)
    return order


def operation_completed(order: WorkOrder, sequence: int, *, now: datetime) -> WorkOrder:
    _require(order, {WorkOrderState.RUNNING}, "completed")
    operation = order.operation(sequence)
    if operation.state is not OperationState.RUNNING:
        raise FailedPrecondition(f"operation {sequence} is {operation.state}, not running")
    order = order.with_operation(
        dataclasses.replace(operation, state=OperationState.DONE, end_time=now)
    )
    if all(o.state is OperationState.DONE for o in order.operations):
        order = dataclasses.replace(order, state=WorkOrderState.COMPLETED, end_time=now)
    return order


def counts_reported(
    order: WorkOrder, sequence: int, *, good: float, scrap: float, now: datetime
) -> WorkOrder:
    """An operator's totals for an operation; they may only grow."""
    if order.state not in (WorkOrderState.RELEASED, WorkOrderState.RUNNING):
        raise FailedPrecondition(f"work order {order.id!r} is {order.state}: counts are closed")
    operation = order.operation(sequence)
    violations = []
    for field, value, before in (
        ("good_quantity", good, operation.good_quantity),
        ("scrap_quantity", scrap, operation.scrap_quantity),
    ):
        if not 0 <= value <= QUANTITY_MAX:
            violations.append(FieldViolation(field, "0..1e9"))
        elif value < before:
            violations.append(
                FieldViolation(field, f"totals never decrease: {before:g} counted already")
            )
    if violations:
        raise InvalidArgument("the counts are not valid", violations=tuple(violations))
    if operation.state is OperationState.PENDING:
        raise FailedPrecondition(f"operation {sequence} has not started")
    if operation.state is OperationState.STARTING:
        raise FailedPrecondition(
            f"operation {sequence} waits for its station's machines to apply its recipe"
        )
    order = order.with_operation(
        dataclasses.replace(operation, good_quantity=good, scrap_quantity=scrap)
    )
    return _done_when_made(order, sequence, now=now)


def counted(
    order: WorkOrder, sequence: int, *, good: float, scrap: float, now: datetime
) -> WorkOrder:
    """Units a machine counted at the operation's station; they are the
    operation's only while it runs (not while its recipe is being applied)."""
    operation = order.operation(sequence)
    if operation.state is not OperationState.RUNNING:
        return order
    order = order.with_operation(
        dataclasses.replace(
            operation,
            good_quantity=operation.good_quantity + good,
            scrap_quantity=operation.scrap_quantity + scrap,
        )
    )
    return _done_when_made(order, sequence, now=now)


def _done_when_made(order: WorkOrder, sequence: int, *, now: datetime) -> WorkOrder:
    """A customer order's operation is done once it made the ordered quantity:
    the customer ordered that many, and no operator stands by to complete it, so
    the counts complete the order."""
    operation = order.operation(sequence)
    if (
        not order.customer_order_id
        or operation.state is not OperationState.RUNNING
        or operation.good_quantity < order.quantity
    ):
        return order
    return operation_completed(order, sequence, now=now)


def cancelled(order: WorkOrder, *, reason: str, now: datetime) -> WorkOrder:
    if not reason.strip() or len(reason) > REASON_MAX:
        raise InvalidArgument(
            "a cancellation needs a reason",
            violations=(FieldViolation("reason", f"1..{REASON_MAX} characters"),),
        )
    _require(order, OPEN, "cancelled")
    return dataclasses.replace(
        order, state=WorkOrderState.CANCELLED, cancel_reason=reason.strip(), end_time=now
    )


def _require(
    order: WorkOrder, allowed: set[WorkOrderState] | frozenset[WorkOrderState], verb: str
) -> None:
    if order.state not in allowed:
        raise FailedPrecondition(f"work order {order.id!r} is {order.state}; it cannot be {verb}")
