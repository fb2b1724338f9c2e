"""Bodies of the state mapping, state timeline, downtime and OEE routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from imcloud_gateway.api.http.schemas.common import Body

# What a machine is doing, as production counts time. no_data is what silence
# means, so no request may name it.
SettableStateName = Literal["running", "idle", "down", "setup", "planned_stop"]
StateName = Literal["running", "idle", "down", "setup", "planned_stop", "no_data"]
ComparisonName = Literal["equal", "greater", "less"]
CounterKindName = Literal["total", "per_cycle"]
LossCategoryName = Literal["breakdown", "setup", "external"]
OeeScopeName = Literal["station", "line", "plant"]
# The products service's rule for signal names.
SignalName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
]
ReasonCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=50,
        pattern=r"^[a-z0-9_.-]{1,50}$",
        examples=["no_material"],
        description="a-z, 0-9, _, - and .",
    ),
]

# -- state mappings ----------------------------------------------------------------


class StateRuleBody(Body):
    comparison: ComparisonName
    value: float = Field(allow_inf_nan=False, examples=[1.0])
    state: SettableStateName = Field(description="The state while the comparison holds")


class CountSignalBody(Body):
    signal: SignalName = Field(examples=["good_parts"])
    kind: CounterKindName = Field(
        description="total: a growing total (a drop is a reset); per_cycle: units per point"
    )


class StateMappingRequest(Body):
    """How every machine of the model gives its station a state and counts."""

    model_config = ConfigDict(
        json_schema_extra={
            # The signals of the equipment model example: a warm spindle is a running one.
            "examples": [
                {
                    "state_signal": "spindle_temperature",
                    "rules": [{"comparison": "greater", "value": 30.0, "state": "running"}],
                    "default_state": "idle",
                    "good": None,
                    "scrap": None,
                    "hold_s": 60,
                }
            ]
        }
    )

    state_signal: SignalName = Field(
        examples=["run_state"], description="A signal of the model whose value gives the state"
    )
    rules: list[StateRuleBody] = Field(
        [], max_length=50, description="Checked in order; the first that holds gives the state"
    )
    default_state: SettableStateName = Field(description="The state when no rule holds")
    good: CountSignalBody | None = Field(None, description="Null: the machine does not count")
    scrap: CountSignalBody | None = Field(None, description="Null: it does not count rejects")
    hold_s: int = Field(
        60,
        ge=1,
        le=3600,
        description="The last state holds this long without a point; then no_data (downtime)",
    )


class StateMappingResponse(BaseModel):
    equipment_model_id: str
    state_signal: str
    rules: list[StateRuleBody]
    default_state: SettableStateName
    good: CountSignalBody | None
    scrap: CountSignalBody | None
    hold_s: int
    update_time: datetime


# -- state timeline and downtime ---------------------------------------------------


class StateIntervalResponse(BaseModel):
    station_id: str
    equipment_id: str = Field(description="The machine whose signals gave the state")
    state: StateName
    start_time: datetime
    end_time: datetime | None = Field(description="Null while it lasts")


class StateIntervalListResponse(BaseModel):
    items: list[StateIntervalResponse] = Field(description="Earliest first, clipped to the range")
    truncated: bool = Field(description="The range held more intervals than returned")


class CreateDowntimeReasonRequest(Body):
    code: ReasonCode = Field(examples=["no_material.coil"], description="Unique in the tenant")
    name: str = Field(min_length=1, max_length=200, examples=["No coil at the press"])
    parent_code: str = Field(
        "",
        max_length=50,
        pattern=r"^[a-z0-9_.-]{0,50}$",
        examples=["no_material"],
        description="The parent reason's code (built-in ones included); empty for a root",
    )
    category: LossCategoryName = Field(
        examples=["external"], description="Where its time counts among the six big losses"
    )


class DowntimeReasonResponse(BaseModel):
    code: str
    name: str
    parent_code: str
    category: LossCategoryName


class DowntimeReasonListResponse(BaseModel):
    items: list[DowntimeReasonResponse] = Field(description="Built-in reasons first")


class AssignDowntimeReasonRequest(Body):
    reason_code: ReasonCode = Field(
        examples=["no_material.coil"], description="A code of the tenant's reason tree"
    )


class DowntimeResponse(BaseModel):
    id: str
    station_id: str
    equipment_id: str
    state: StateName = Field(description="down, idle, setup or no_data")
    start_time: datetime
    end_time: datetime | None = Field(description="Null while it lasts")
    reason_code: str = Field(description="Empty until an operator assigns one")
    category: LossCategoryName = Field(description="From the reason, else from the state")
    reason_actor: str = Field(description="Who assigned the reason")


# -- OEE ---------------------------------------------------------------------------


class TimeElementsBody(BaseModel):
    """ISO 22400-2 time elements, in seconds."""

    planned_busy_time_s: float = Field(description="PBT: shifts less breaks and planned downtime")
    actual_production_time_s: float = Field(description="APT: running, small stops included")
    actual_unit_down_time_s: float = Field(description="ADOT: down and no-data stops")
    actual_unit_setup_time_s: float = Field(description="ASUT")
    idle_time_s: float
    small_stop_time_s: float = Field(description="Stops under the threshold (inside APT)")
    no_data_time_s: float = Field(description="Inside ADOT")
    planned_down_time_s: float = Field(description="PDOT: breaks, planned downtime and stops")


class QuantitiesBody(BaseModel):
    """ISO 22400-2 quantities."""

    produced: float = Field(description="PQ: good + scrap")
    good: float = Field(description="GQ")
    scrap: float = Field(description="SQ")
    startup_scrap: float = Field(description="Scrap within the start-up window")
    ideal_production_time_s: float = Field(description="Ideal cycle times of what was produced")


class SixLossesBody(BaseModel):
    """The six big losses, in seconds of planned busy time."""

    breakdowns_s: float
    setup_and_adjustment_s: float
    small_stops_s: float
    reduced_speed_s: float
    startup_rejects_s: float
    production_rejects_s: float


class OeeBody(BaseModel):
    scope: OeeScopeName
    scope_id: str
    start_time: datetime
    end_time: datetime
    shift: str = Field(description="The shift's name when the range is one shift")
    availability: float | None = Field(description="APT / PBT; null without planned time")
    performance: float | None = Field(description="Ideal production time / APT")
    quality: float | None = Field(description="GQ / PQ; null when nothing was produced")
    oee: float | None = Field(description="availability x performance x quality")
    time: TimeElementsBody
    quantities: QuantitiesBody
    losses: SixLossesBody
    stations: int = Field(description="Stations counted")


class OeeResponse(BaseModel):
    total: OeeBody = Field(description="The scope over the whole range")
    parts: list[OeeBody] = Field(description="Per station or per shift, as asked")
