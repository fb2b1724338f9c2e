"""How well stations perform, from their machines' own data: how an equipment
model's signals give state and counts, the state timeline, downtime with its
reasons, and OEE with ISO 22400-2 time elements and the six big losses.

Stored and computed by the production service; equipment models are the
products service's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from google.protobuf.message import Message

from imcloud.production.v1 import catalog_pb2 as catalog_pb
from imcloud.production.v1 import performance_pb2 as performance_pb
from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.products.v1 import products_service_pb2 as products_pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_gateway.api.http.deps import (
    AdminCall,
    GatewayDep,
    OperatorCall,
    PageSize,
    PageToken,
    QueryTime,
    ViewerCall,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.production import checked_range, optional_time
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.performance import (
    AssignDowntimeReasonRequest,
    ComparisonName,
    CounterKindName,
    CountSignalBody,
    CreateDowntimeReasonRequest,
    DowntimeReasonListResponse,
    DowntimeReasonResponse,
    DowntimeResponse,
    LossCategoryName,
    OeeBody,
    OeeResponse,
    OeeScopeName,
    QuantitiesBody,
    SettableStateName,
    SixLossesBody,
    StateIntervalListResponse,
    StateIntervalResponse,
    StateMappingRequest,
    StateMappingResponse,
    StateName,
    StateRuleBody,
    TimeElementsBody,
)

router = APIRouter(tags=["production"])

SETTABLE_STATES: dict[SettableStateName, catalog_pb.EquipmentState.ValueType] = {
    "running": catalog_pb.EQUIPMENT_STATE_RUNNING,
    "idle": catalog_pb.EQUIPMENT_STATE_IDLE,
    "down": catalog_pb.EQUIPMENT_STATE_DOWN,
    "setup": catalog_pb.EQUIPMENT_STATE_SETUP,
    "planned_stop": catalog_pb.EQUIPMENT_STATE_PLANNED_STOP,
}
SETTABLE_STATE_NAMES = {number: name for name, number in SETTABLE_STATES.items()}
EQUIPMENT_STATE_NAMES: dict[catalog_pb.EquipmentState.ValueType, StateName] = {
    **SETTABLE_STATE_NAMES,
    catalog_pb.EQUIPMENT_STATE_NO_DATA: "no_data",
}
COMPARISONS: dict[ComparisonName, catalog_pb.StateComparison.ValueType] = {
    "equal": catalog_pb.STATE_COMPARISON_EQUAL,
    "greater": catalog_pb.STATE_COMPARISON_GREATER,
    "less": catalog_pb.STATE_COMPARISON_LESS,
}
COMPARISON_NAMES = {number: name for name, number in COMPARISONS.items()}
COUNTER_KINDS: dict[CounterKindName, catalog_pb.CounterKind.ValueType] = {
    "total": catalog_pb.COUNTER_KIND_TOTAL,
    "per_cycle": catalog_pb.COUNTER_KIND_PER_CYCLE,
}
COUNTER_KIND_NAMES = {number: name for name, number in COUNTER_KINDS.items()}
LOSS_CATEGORIES: dict[LossCategoryName, performance_pb.LossCategory.ValueType] = {
    "breakdown": performance_pb.LOSS_CATEGORY_BREAKDOWN,
    "setup": performance_pb.LOSS_CATEGORY_SETUP,
    "external": performance_pb.LOSS_CATEGORY_EXTERNAL,
}
LOSS_CATEGORY_NAMES = {number: name for name, number in LOSS_CATEGORIES.items()}
OEE_SCOPE_NAMES: dict[performance_pb.OeeScope.ValueType, OeeScopeName] = {
    performance_pb.OEE_SCOPE_STATION: "station",
    performance_pb.OEE_SCOPE_LINE: "line",
    performance_pb.OEE_SCOPE_PLANT: "plant",
}
OEE_BREAKDOWNS = {
    "": pb.OEE_BREAKDOWN_UNSPECIFIED,
    "station": pb.OEE_BREAKDOWN_STATION,
    "shift": pb.OEE_BREAKDOWN_SHIFT,
}
# The longest ranges the service answers for at once.
MAX_TIMELINE_DAYS = 31
MAX_DOWNTIME_DAYS = 93
MAX_OEE_DAYS = 93

Start = Annotated[QueryTime, Query(description="From this time on (inclusive)")]
End = Annotated[QueryTime, Query(description="Up to this time (exclusive)")]
ScopeId = Annotated[
    str, Query(max_length=36, description="Exactly one of station_id, line_id, plant_id")
]


def _one_scope(station_id: str, line_id: str, plant_id: str) -> None:
    """Refuses a query that names no scope or more than one, naming what is wrong."""
    named = [
        name
        for name, value in (
            ("station_id", station_id),
            ("line_id", line_id),
            ("plant_id", plant_id),
        )
        if value
    ]
    if len(named) != 1:
        raise InvalidArgument(
            "the scope is not valid",
            violations=tuple(
                FieldViolation(name, "give exactly one of station_id, line_id, plant_id")
                for name in (named[1:] or ["station_id"])
            ),
        )


# -- state mappings ----------------------------------------------------------------


def _count_signal(signal: CountSignalBody | None) -> catalog_pb.CountSignal | None:
    if signal is None:
        return None
    return catalog_pb.CountSignal(signal=signal.signal, kind=COUNTER_KINDS[signal.kind])


def _count_body(signal: catalog_pb.CountSignal) -> CountSignalBody:
    return CountSignalBody(signal=signal.signal, kind=COUNTER_KIND_NAMES[signal.kind])


def mapping_body(mapping: catalog_pb.StateMapping) -> StateMappingResponse:
    return StateMappingResponse(
        equipment_model_id=mapping.equipment_model_id,
        state_signal=mapping.state_signal,
        rules=[
            StateRuleBody(
                comparison=COMPARISON_NAMES[rule.comparison],
                value=rule.value,
                state=SETTABLE_STATE_NAMES[rule.state],
            )
            for rule in mapping.rules
        ],
        default_state=SETTABLE_STATE_NAMES[mapping.default_state],
        good=_count_body(mapping.good) if mapping.HasField("good") else None,
        scrap=_count_body(mapping.scrap) if mapping.HasField("scrap") else None,
        hold_s=mapping.hold_s,
        update_time=from_timestamp(mapping.update_time),
    )


def _unknown_signals(body: StateMappingRequest, model: products_pb.EquipmentModel) -> None:
    """Refuses a mapping naming signals the model does not have: they would never arrive."""
    known = {signal.name for signal in model.signals}
    named = [("state_signal", body.state_signal)]
    named += [
        (f"{k}.signal", c.signal) for k, c in (("good", body.good), ("scrap", body.scrap)) if c
    ]
    violations = tuple(
        FieldViolation(field, f"the equipment model has no signal {signal!r}")
        for field, signal in named
        if signal not in known
    )
    if violations:
        raise InvalidArgument("the state mapping is not valid", violations=violations)


@router.put(
    "/v1/equipment-models/{equipment_model_id}/state-mapping",
    summary="Say how an equipment model's signals give state and counts",
    description=(
        "For every machine of the model: the signal whose value gives the machine's state "
        "(rules checked in order, else default_state), and the signals counting good and "
        "rejected units. Signals the model does not have are a 422 naming the field."
    ),
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def set_state_mapping(
    equipment_model_id: str, body: StateMappingRequest, ctx: AdminCall, gateway: GatewayDep
) -> StateMappingResponse:
    # Production stores mappings for any id it is given; products knows which
    # models the tenant has (another tenant's is a 404 like an unknown one).
    model = gateway.call(
        gateway.backends.products.GetEquipmentModel,
        products_pb.GetEquipmentModelRequest(equipment_model_id=equipment_model_id),
        ctx,
    ).equipment_model
    _unknown_signals(body, model)
    response = gateway.call(
        gateway.backends.production.SetStateMapping,
        pb.SetStateMappingRequest(
            mapping=catalog_pb.StateMapping(
                equipment_model_id=equipment_model_id,
                state_signal=body.state_signal,
                rules=[
                    catalog_pb.StateRule(
                        comparison=COMPARISONS[rule.comparison],
                        value=rule.value,
                        state=SETTABLE_STATES[rule.state],
                    )
                    for rule in body.rules
                ],
                default_state=SETTABLE_STATES[body.default_state],
                good=_count_signal(body.good),
                scrap=_count_signal(body.scrap),
                hold_s=body.hold_s,
            )
        ),
        ctx,
    )
    return mapping_body(response.mapping)


@router.get(
    "/v1/equipment-models/{equipment_model_id}/state-mapping",
    summary="Get an equipment model's state mapping",
    description="404 while the model has none.",
    responses=error_responses(401, 404, 429, 503),
)
def get_state_mapping(
    equipment_model_id: str, ctx: ViewerCall, gateway: GatewayDep
) -> StateMappingResponse:
    response = gateway.call(
        gateway.backends.production.GetStateMapping,
        pb.GetStateMappingRequest(equipment_model_id=equipment_model_id),
        ctx,
    )
    return mapping_body(response.mapping)


# -- state timeline ----------------------------------------------------------------


def interval_body(interval: performance_pb.StateInterval) -> StateIntervalResponse:
    return StateIntervalResponse(
        station_id=interval.station_id,
        equipment_id=interval.equipment_id,
        state=EQUIPMENT_STATE_NAMES[interval.state],
        start_time=from_timestamp(interval.start_time),
        end_time=optional_time(interval, "end_time"),
    )


@router.get(
    "/v1/stations/{station_id}/states",
    summary="A station's state timeline over a time range",
    description=(
        f"What each machine of the station was doing, earliest first, clipped to the range "
        f"(at most {MAX_TIMELINE_DAYS} days); truncated says when more intervals exist."
    ),
    responses=error_responses(401, 404, 422, 429, 503),
)
def list_state_intervals(
    station_id: str, start_time: Start, end_time: End, ctx: ViewerCall, gateway: GatewayDep
) -> StateIntervalListResponse:
    start, end = checked_range(start_time, end_time, max_days=MAX_TIMELINE_DAYS)
    response = gateway.call(
        gateway.backends.production.ListStateIntervals,
        pb.ListStateIntervalsRequest(station_id=station_id, start_time=start, end_time=end),
        ctx,
    )
    return StateIntervalListResponse(
        items=[interval_body(i) for i in response.intervals], truncated=response.truncated
    )


# -- downtime ----------------------------------------------------------------------


def reason_body(reason: performance_pb.DowntimeReason) -> DowntimeReasonResponse:
    return DowntimeReasonResponse(
        code=reason.code,
        name=reason.name,
        parent_code=reason.parent_code,
        category=LOSS_CATEGORY_NAMES[reason.category],
    )


def downtime_body(downtime: performance_pb.Downtime) -> DowntimeResponse:
    return DowntimeResponse(
        id=downtime.id,
        station_id=downtime.station_id,
        equipment_id=downtime.equipment_id,
        state=EQUIPMENT_STATE_NAMES[downtime.state],
        start_time=from_timestamp(downtime.start_time),
        end_time=optional_time(downtime, "end_time"),
        reason_code=downtime.reason_code,
        category=LOSS_CATEGORY_NAMES[downtime.category],
        reason_actor=downtime.reason_actor,
    )


@router.post(
    "/v1/downtime-reasons",
    status_code=status.HTTP_201_CREATED,
    summary="Add a reason to the tenant's downtime reason tree",
    description=(
        "Codes are unique in the tenant (409 otherwise); an unknown parent_code is a 422 "
        "naming that field. The category says which of the six big losses its time is."
    ),
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_downtime_reason(
    body: CreateDowntimeReasonRequest, ctx: AdminCall, gateway: GatewayDep
) -> DowntimeReasonResponse:
    response = gateway.call(
        gateway.backends.production.CreateDowntimeReason,
        pb.CreateDowntimeReasonRequest(
            reason=performance_pb.DowntimeReason(
                code=body.code,
                name=body.name,
                parent_code=body.parent_code,
                category=LOSS_CATEGORIES[body.category],
            )
        ),
        ctx,
    )
    return reason_body(response.reason)


@router.get(
    "/v1/downtime-reasons",
    summary="The tenant's downtime reason tree, built-in reasons first",
    responses=error_responses(401, 429, 503),
)
def list_downtime_reasons(ctx: ViewerCall, gateway: GatewayDep) -> DowntimeReasonListResponse:
    response = gateway.call(
        gateway.backends.production.ListDowntimeReasons, pb.ListDowntimeReasonsRequest(), ctx
    )
    return DowntimeReasonListResponse(items=[reason_body(r) for r in response.reasons])


@router.get(
    "/v1/downtimes",
    summary="List the stops of a station, line or plant, newest first",
    description=(
        "Stops in planned busy time that lasted at least the calendar's small-stop "
        f"threshold, over a range of at most {MAX_DOWNTIME_DAYS} days. Name exactly one of "
        "station_id, line_id, plant_id."
    ),
    responses=error_responses(401, 404, 422, 429, 503),
)
def list_downtimes(
    start_time: Start,
    end_time: End,
    ctx: ViewerCall,
    gateway: GatewayDep,
    station_id: ScopeId = "",
    line_id: ScopeId = "",
    plant_id: ScopeId = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[DowntimeResponse]:
    _one_scope(station_id, line_id, plant_id)
    start, end = checked_range(start_time, end_time, max_days=MAX_DOWNTIME_DAYS)
    response = gateway.call(
        gateway.backends.production.ListDowntimes,
        pb.ListDowntimesRequest(
            station_id=station_id,
            line_id=line_id,
            plant_id=plant_id,
            start_time=start,
            end_time=end,
            page_size=page_size,
            page_token=page_token,
        ),
        ctx,
    )
    return Page(
        items=[downtime_body(d) for d in response.downtimes],
        next_page_token=response.next_page_token,
    )


@router.post(
    "/v1/downtimes/{downtime_id}:assign-reason",
    summary="Say why a machine stopped",
    description=(
        "Assigns a code of the tenant's reason tree (422 naming reason_code when unknown); "
        "the stop's time then counts in the reason's category."
    ),
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def assign_downtime_reason(
    downtime_id: str, body: AssignDowntimeReasonRequest, ctx: OperatorCall, gateway: GatewayDep
) -> DowntimeResponse:
    response = gateway.call(
        gateway.backends.production.AssignDowntimeReason,
        pb.AssignDowntimeReasonRequest(downtime_id=downtime_id, reason_code=body.reason_code),
        ctx,
    )
    return downtime_body(response.downtime)


# -- OEE ---------------------------------------------------------------------------


def _fields(message: Message) -> dict[str, float]:
    """A message of numbers only, as keyword arguments of its body."""
    return {field.name: getattr(message, field.name) for field in message.DESCRIPTOR.fields}


def oee_body(oee: performance_pb.Oee) -> OeeBody:
    # A ratio is unset where its denominator is zero (no planned time, nothing made).
    return OeeBody(
        scope=OEE_SCOPE_NAMES[oee.scope],
        scope_id=oee.scope_id,
        start_time=from_timestamp(oee.start_time),
        end_time=from_timestamp(oee.end_time),
        shift=oee.shift,
        availability=oee.availability if oee.HasField("availability") else None,
        performance=oee.performance if oee.HasField("performance") else None,
        quality=oee.quality if oee.HasField("quality") else None,
        oee=oee.oee if oee.HasField("oee") else None,
        time=TimeElementsBody(**_fields(oee.time)),
        quantities=QuantitiesBody(**_fields(oee.quantities)),
        losses=SixLossesBody(**_fields(oee.losses)),
        stations=oee.stations,
    )


@router.get(
    "/v1/oee",
    summary="OEE of a station, line or plant over a time range",
    description=(
        "Availability, performance, quality and OEE with the ISO 22400-2 time elements and "
        "quantities and the six big losses; a ratio is null where its denominator is zero. "
        "Name exactly one of station_id, line_id, plant_id; the range (at most "
        f"{MAX_OEE_DAYS} days) is rounded down to whole minutes. breakdown=station or "
        "breakdown=shift adds the figures per station of the scope or per shift of the range."
    ),
    responses=error_responses(401, 404, 422, 429, 503),
)
def get_oee(
    start_time: Start,
    end_time: End,
    ctx: ViewerCall,
    gateway: GatewayDep,
    station_id: ScopeId = "",
    line_id: ScopeId = "",
    plant_id: ScopeId = "",
    breakdown: Annotated[
        str, Query(pattern="^(station|shift)?$", description="station or shift: parts as well")
    ] = "",
) -> OeeResponse:
    _one_scope(station_id, line_id, plant_id)
    start, end = checked_range(start_time, end_time, max_days=MAX_OEE_DAYS)
    response = gateway.call(
        gateway.backends.production.GetOee,
        pb.GetOeeRequest(
            station_id=station_id,
            line_id=line_id,
            plant_id=plant_id,
            start_time=start,
            end_time=end,
            breakdown=OEE_BREAKDOWNS[breakdown],
        ),
        ctx,
    )
    return OeeResponse(total=oee_body(response.total), parts=[oee_body(p) for p in response.parts])
