"""Bodies of the schedule routes: a plant's plan as a Gantt chart, the ETA of a
work order with why it is what it is, and the what-if quote of a new order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from imcloud_gateway.api.http.schemas.common import Body
from imcloud_gateway.api.http.schemas.production import Instant
from imcloud_gateway.api.http.schemas.work_orders import Quantity, ResourceId

ScheduleStatusName = Literal["optimal", "feasible", "infeasible", "unknown"]
TriggerKindName = Literal[
    "work_order_released",
    "work_order_cancelled",
    "operation_started",
    "operation_completed",
    "station_down",
    "station_back",
    "slower_than_planned",
    "calendar_changed",
    "planned_downtime_changed",
    "requested",
]

# One small plant in every example: a housing milled on Mill 1, then drilled on Drill 1.
_PLANT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
_LINE = "0f8fad5b-d9cb-469f-a165-70867728950e"
_MILL = "3b241101-e2bb-4255-8caf-4136c566a962"
_DRILL = "5a8e1e4c-61c5-4a1b-8c0a-6d2f0b8c1e5d"
_ORDER = "e8b5a51d-11c8-4a7b-9f5e-4c3d2b1a0f9e"
_RELEASED: dict[str, JsonValue] = {
    "kind": "work_order_released",
    "subject_id": _ORDER,
    "description": f"work order {_ORDER} released (120 x HSG-100, due 2026-12-03 14:00 UTC, "
    "priority 0)",
    "occur_time": "2026-12-01T08:00:00Z",
}
_MILLING: dict[str, JsonValue] = {
    "work_order_id": _ORDER,
    "sequence": 1,
    "name": "mill housing",
    "station_id": _MILL,
    "line_id": _LINE,
    "setup_start_time": "2026-12-01T08:00:01Z",
    "start_time": "2026-12-01T08:10:01Z",
    "end_time": "2026-12-01T09:40:01Z",
    "frozen": True,
    "started": False,
}
_DRILLING: dict[str, JsonValue] = {
    "work_order_id": _ORDER,
    "sequence": 2,
    "name": "drill flange",
    "station_id": _DRILL,
    "line_id": _LINE,
    "setup_start_time": "2026-12-01T09:40:01Z",
    "start_time": "2026-12-01T09:40:01Z",
    "end_time": "2026-12-01T10:20:01Z",
    "frozen": False,
    "started": False,
}
_ETA: dict[str, JsonValue] = {
    "work_order_id": _ORDER,
    "due_time": "2026-12-03T14:00:00Z",
    "end_time": "2026-12-01T10:20:01Z",
    "lateness_s": 0.0,
    "explanation": f"Planned to end 2026-12-01 10:20 UTC, after: work order {_ORDER} released "
    "(120 x HSG-100, due 2026-12-03 14:00 UTC, priority 0). On time, 2 d 3 h 40 min before "
    "its due time.",
    "revision": 1,
    "previous_end_time": None,
    "triggers": [_RELEASED],
    "moved_operations": [],
}
_SCHEDULE: dict[str, JsonValue] = {
    "plant_id": _PLANT,
    "revision": 1,
    "status": "optimal",
    "method": "cp-sat",
    "compute_time": "2026-12-01T08:00:01Z",
    "solve_time_s": 0.04,
    "triggers": [_RELEASED],
    "operations": [_MILLING, _DRILLING],
    "etas": [_ETA],
    "unscheduled": [],
    "down_station_ids": [],
    "reason": "",
    "weighted_tardiness_s": 0.0,
    "makespan_end_time": "2026-12-01T10:20:01Z",
}


class ScheduleTriggerBody(BaseModel):
    """Something that happened on the floor or in the plan, which the scheduler reacted to."""

    kind: TriggerKindName = Field(description="What happened")
    subject_id: str = Field(description="The work order, station or plant it happened to")
    description: str = Field(description="What happened, in words")
    occur_time: datetime = Field(description="When it happened")


class ScheduledOperationBody(BaseModel):
    """One operation of a work order, planned on a station: a bar of the Gantt chart."""

    work_order_id: str
    sequence: int = Field(description="The operation's place in the routing, from 1")
    name: str = Field(description="The routing step")
    station_id: str = Field(description="The station planned to run it")
    line_id: str = Field(description="That station's line")
    setup_start_time: datetime = Field(
        description="The station is taken from here on: the setup comes first"
    )
    start_time: datetime = Field(description="The operation itself starts, after its setup")
    end_time: datetime = Field(
        description="It ends; for a running operation, when it will end at its pace so far"
    )
    frozen: bool = Field(
        description="Started, or about to start: a new plan after an event leaves it where it is"
    )
    started: bool = Field(description="It is running on the shop floor")


class MovedOperationBody(BaseModel):
    """An operation that a new plan put at another station or time."""

    sequence: int = Field(description="The operation's place in the routing, from 1")
    previous_station_id: str = Field(description="Where it was planned before")
    previous_start_time: datetime = Field(description="When it was planned to start before")
    station_id: str = Field(description="Where it is planned now")
    start_time: datetime = Field(description="When it is planned to start now")


class WorkOrderEtaResponse(BaseModel):
    """When a released or running work order is planned to be done, and why."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ETA]})

    work_order_id: str
    due_time: datetime
    end_time: datetime = Field(description="When its last operation is planned to end")
    lateness_s: float = Field(
        description="Seconds the planned end is after the due time; 0: on time"
    )
    explanation: str = Field(
        description="Why the ETA is what it is: the events that last changed it, the "
        "operations they moved, and for a late order what it waits for"
    )
    revision: int = Field(description="The schedule revision that last changed the ETA")
    previous_end_time: datetime | None = Field(
        description="The planned end before that revision; null for an order new to the plan"
    )
    triggers: list[ScheduleTriggerBody] = Field(description="The events of that revision")
    moved_operations: list[MovedOperationBody] = Field(
        description="The operations of the order that revision moved"
    )


class UnscheduledWorkOrderBody(BaseModel):
    """A released work order the plan leaves out, because no plan could hold it."""

    work_order_id: str
    reason: str = Field(
        description="Why, e.g. an operation longer than any shift of the stations that can run it"
    )


class ScheduleResponse(BaseModel):
    """A plant's current plan: every open operation on a station, and every ETA."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SCHEDULE]})

    plant_id: str
    revision: int = Field(
        description="Grows by one with every new plan of the plant; 0: no plan made yet"
    )
    status: ScheduleStatusName | None = Field(
        description="optimal: the best plan for the objective; feasible: the best found in "
        "the time allowed; infeasible or unknown: no plan, reason says why; null before "
        "the first plan"
    )
    method: str = Field(
        description="What made the plan: cp-sat (the optimiser), or the dispatching rule it "
        "fell back to, such as edd (earliest due date first)"
    )
    compute_time: datetime | None = Field(
        description="When the plan was made: the moment it starts from; null before the first"
    )
    solve_time_s: float = Field(description="Seconds the scheduler took to make it")
    triggers: list[ScheduleTriggerBody] = Field(description="The events this plan reacted to")
    operations: list[ScheduledOperationBody] = Field(
        description="The planned operations (of the line, station and time asked for), "
        "earliest first"
    )
    etas: list[WorkOrderEtaResponse] = Field(description="The ETA of every planned work order")
    unscheduled: list[UnscheduledWorkOrderBody] = Field(
        description="Released work orders the plan leaves out, each with its reason"
    )
    down_station_ids: list[str] = Field(
        description="Stations the plan treats as down, so that nothing runs on them for now"
    )
    reason: str = Field(description="Why there is no plan, when status is infeasible or unknown")
    weighted_tardiness_s: float = Field(
        description="Seconds late over all orders, each counted 1 + priority / 100 times "
        "(rounded down): what the plan keeps as low as it can"
    )
    makespan_end_time: datetime | None = Field(
        description="When the last planned operation ends; null when nothing is planned"
    )


class QuoteWorkOrderRequest(Body):
    """An order that is not released: when would it be done if it were released now?"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product_id": "9b2d4f6a-8c1e-4a3b-b5d7-e9f1a3c5e7b9",
                    "quantity": 120.0,
                    "due_time": (datetime.now(UTC) + timedelta(days=7))
                    .replace(microsecond=0)
                    .isoformat(),
                    "priority": 0,
                }
            ]
        }
    )

    product_id: ResourceId = Field(description="The product; its routing is what would be planned")
    quantity: Quantity = Field(examples=[120.0], description="Good units to make")
    due_time: Instant | None = Field(
        None,
        description="When it would be due, in the future; null: no due time, so it is never "
        "late, and is planned not to make any other order late where that can be avoided",
    )
    priority: int = Field(0, ge=0, le=1000, description="Higher goes first, as on a work order")


class QuoteResponse(BaseModel):
    """When the order would be done, and which released orders it would delay."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "end_time": "2026-12-01T12:00:01Z",
                    "lateness_s": 0.0,
                    "explanation": "Planned to end 2026-12-01 12:00 UTC, after: a quote for "
                    "120 x HSG-100 released now. On time, 6 d 2 h before its due time.",
                    "status": "optimal",
                    "delayed": [],
                    "operations": [
                        {
                            **_MILLING,
                            "work_order_id": "quote",
                            "setup_start_time": "2026-12-01T09:40:01Z",
                            "start_time": "2026-12-01T09:50:01Z",
                            "end_time": "2026-12-01T11:20:01Z",
                            "frozen": False,
                        },
                        {
                            **_DRILLING,
                            "work_order_id": "quote",
                            "setup_start_time": "2026-12-01T11:20:01Z",
                            "start_time": "2026-12-01T11:20:01Z",
                            "end_time": "2026-12-01T12:00:01Z",
                        },
                    ],
                }
            ]
        }
    )

    end_time: datetime = Field(description="When its last operation would end")
    lateness_s: float = Field(
        description="Seconds it would end after its due time; 0: on time, or no due time"
    )
    explanation: str = Field(description="Why it would end then")
    status: ScheduleStatusName = Field(
        description="How good the plan behind the quote is known to be, as for a schedule"
    )
    delayed: list[WorkOrderEtaResponse] = Field(
        description="Released orders that would end later than planned now, with their new ETA"
    )
    operations: list[ScheduledOperationBody] = Field(
        description='Its operations as they would be planned; their work_order_id is "quote"'
    )
