"""Alarm rules and the alarms they raise (evaluated by servitization in the stream).

The gateway checks what only it can see across services: that the scope is one of
the tenant's machines, models, stations, lines or plants, and that the signal is
one the scope's equipment models define.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, status

from imcloud.production.v1 import production_service_pb2 as production_pb
from imcloud.products.v1 import equipment_events_pb2
from imcloud.products.v1 import products_service_pb2 as products_pb
from imcloud.servitization.v1 import alarms_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument, NotFound
from imcloud_core.paging import MAX_PAGE_SIZE, every_page
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.deps import (
    GatewayDep,
    OperatorCall,
    PageSize,
    PageToken,
    ViewerCall,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.products import IdFilter
from imcloud_gateway.api.http.schemas.alarms import (
    AlarmConditionBody,
    AlarmResponse,
    AlarmRuleResponse,
    AlarmScopeBody,
    AlarmStateName,
    CommandBody,
    CreateAlarmRuleRequest,
    EpisodeBody,
    KpiBody,
    NoDataBody,
    RateOfChangeBody,
    Severity,
    ThresholdBody,
)
from imcloud_gateway.api.http.schemas.common import Page

router = APIRouter(tags=["servitization"])

SEVERITIES: dict[str, int] = {
    "info": pb.ALARM_SEVERITY_INFO,
    "warning": pb.ALARM_SEVERITY_WARNING,
    "major": pb.ALARM_SEVERITY_MAJOR,
    "critical": pb.ALARM_SEVERITY_CRITICAL,
}
SEVERITY_NAMES = {value: name for name, value in SEVERITIES.items()}
STATES: dict[str, int] = {
    "active": pb.ALARM_STATE_ACTIVE,
    "acknowledged": pb.ALARM_STATE_ACKNOWLEDGED,
    "cleared": pb.ALARM_STATE_CLEARED,
}
STATE_NAMES = {value: name for name, value in STATES.items()}
EPISODE_SEVERITIES = {
    "low": equipment_events_pb2.EPISODE_SEVERITY_LOW,
    "medium": equipment_events_pb2.EPISODE_SEVERITY_MEDIUM,
    "high": equipment_events_pb2.EPISODE_SEVERITY_HIGH,
}
EPISODE_SEVERITY_NAMES = {value: name for name, value in EPISODE_SEVERITIES.items()}
KPIS: dict[str, int] = {
    "oee": pb.KPI_OEE,
    "availability": pb.KPI_AVAILABILITY,
    "performance": pb.KPI_PERFORMANCE,
    "quality": pb.KPI_QUALITY,
    "scrap_rate": pb.KPI_SCRAP_RATE,
}
KPI_NAMES = {value: name for name, value in KPIS.items()}


def _invalid(field: str, reason: str) -> InvalidArgument:
    return InvalidArgument(
        "the alarm rule is not valid", violations=(FieldViolation(field, reason),)
    )


def _model_signals(gateway: HttpContext, ctx: CallContext, model_id: str) -> set[str]:
    model = gateway.call(
        gateway.backends.products.GetEquipmentModel,
        products_pb.GetEquipmentModelRequest(equipment_model_id=model_id),
        ctx,
    ).equipment_model
    return {s.name for s in model.signals}


def _every_model_signal(gateway: HttpContext, ctx: CallContext) -> set[str]:
    def page(token: str) -> tuple[list[products_pb.EquipmentModel], str]:
        response = gateway.call(
            gateway.backends.products.ListEquipmentModels,
            products_pb.ListEquipmentModelsRequest(page_size=MAX_PAGE_SIZE, page_token=token),
            ctx,
        )
        return list(response.equipment_models), response.next_page_token

    return {s.name for model in every_page(page) for s in model.signals}


def _scope_signals(gateway: HttpContext, ctx: CallContext, scope: AlarmScopeBody) -> set[str]:
    """The signals the scope's machines may have; a scope the tenant lacks is a 422."""
    field, scope_id = scope.named()
    products, production = gateway.backends.products, gateway.backends.production
    try:
        if field == "equipment_id":
            machine = gateway.call(
                products.GetEquipment, products_pb.GetEquipmentRequest(equipment_id=scope_id), ctx
            ).equipment
            return _model_signals(gateway, ctx, machine.equipment_model_id)
        if field == "equipment_model_id":
            return _model_signals(gateway, ctx, scope_id)
        if field == "station_id":
            gateway.call(
                production.GetStation, production_pb.GetStationRequest(station_id=scope_id), ctx
            )
        elif field == "line_id":
            gateway.call(production.GetLine, production_pb.GetLineRequest(line_id=scope_id), ctx)
        else:
            gateway.call(production.GetPlant, production_pb.GetPlantRequest(plant_id=scope_id), ctx)
    except NotFound:
        raise _invalid(f"scope.{field}", "does not exist") from None
    # A station, line or plant may hold machines of any model the tenant has.
    return _every_model_signal(gateway, ctx)


def _checked_signal(gateway: HttpContext, ctx: CallContext, body: CreateAlarmRuleRequest) -> None:
    condition = body.condition
    watched = [
        (kind, named.signal)
        for kind, named in (
            ("threshold", condition.threshold),
            ("rate_of_change", condition.rate_of_change),
            ("no_data", condition.no_data),
        )
        if named is not None and named.signal
    ]
    signals = _scope_signals(gateway, ctx, body.scope)
    for kind, signal in watched:
        if signal not in signals:
            known = ", ".join(sorted(signals)) or "none"
            raise _invalid(
                f"condition.{kind}.signal",
                f"{signal!r} is not a signal of the scope's equipment models ({known})",
            )


def _rule_message(body: CreateAlarmRuleRequest) -> pb.AlarmRule:
    field, scope_id = body.scope.named()
    message = pb.AlarmRule(
        name=body.name,
        severity=SEVERITIES[body.severity],  # type: ignore[arg-type]
        scope=pb.AlarmScope(**{field: scope_id}),
    )
    condition = body.condition
    if condition.threshold is not None:
        message.threshold.CopyFrom(pb.ThresholdCondition(**condition.threshold.model_dump()))
    elif condition.rate_of_change is not None:
        message.rate_of_change.CopyFrom(
            pb.RateOfChangeCondition(**condition.rate_of_change.model_dump())
        )
    elif condition.no_data is not None:
        message.no_data.CopyFrom(pb.NoDataCondition(**condition.no_data.model_dump()))
    elif condition.episode is not None:
        message.episode.min_severity = EPISODE_SEVERITIES[condition.episode.min_severity]  # type: ignore[assignment]
    elif condition.kpi is not None:
        message.kpi.CopyFrom(
            pb.KpiCondition(kpi=KPIS[condition.kpi.kpi], target=condition.kpi.target)  # type: ignore[arg-type]
        )
    else:
        message.command.SetInParent()
    return message


def rule_body(rule: pb.AlarmRule) -> AlarmRuleResponse:
    scope_field = rule.scope.WhichOneof("kind") or "equipment_id"
    kind = rule.WhichOneof("condition")
    condition = AlarmConditionBody(
        threshold=(
            ThresholdBody(
                signal=rule.threshold.signal,
                above=rule.threshold.above,
                threshold=rule.threshold.threshold,
                duration_s=rule.threshold.duration_s,
                hysteresis=rule.threshold.hysteresis,
            )
            if kind == "threshold"
            else None
        ),
        rate_of_change=(
            RateOfChangeBody(
                signal=rule.rate_of_change.signal,
                max_rate_per_s=rule.rate_of_change.max_rate_per_s,
            )
            if kind == "rate_of_change"
            else None
        ),
        episode=(
            EpisodeBody(min_severity=EPISODE_SEVERITY_NAMES[rule.episode.min_severity])  # type: ignore[arg-type]
            if kind == "episode"
            else None
        ),
        command=CommandBody() if kind == "command" else None,
        no_data=(
            NoDataBody(signal=rule.no_data.signal, duration_s=rule.no_data.duration_s)
            if kind == "no_data"
            else None
        ),
        kpi=(
            KpiBody(kpi=KPI_NAMES[rule.kpi.kpi], target=rule.kpi.target)  # type: ignore[arg-type]
            if kind == "kpi"
            else None
        ),
    )
    return AlarmRuleResponse(
        id=rule.id,
        name=rule.name,
        severity=SEVERITY_NAMES[rule.severity],  # type: ignore[arg-type]
        scope=AlarmScopeBody(**{scope_field: getattr(rule.scope, scope_field)}),
        condition=condition,
        create_time=from_timestamp(rule.create_time),
    )


def alarm_body(alarm: pb.Alarm) -> AlarmResponse:
    return AlarmResponse(
        id=alarm.id,
        rule_id=alarm.rule_id,
        rule_name=alarm.rule_name,
        severity=SEVERITY_NAMES[alarm.severity],  # type: ignore[arg-type]
        state=STATE_NAMES[alarm.state],  # type: ignore[arg-type]
        equipment_id=alarm.equipment_id,
        detail=alarm.detail,
        value=alarm.value,
        raise_time=from_timestamp(alarm.raise_time),
        acknowledge_time=(
            from_timestamp(alarm.acknowledge_time) if alarm.HasField("acknowledge_time") else None
        ),
        acknowledged_by=alarm.acknowledged_by,
        clear_time=from_timestamp(alarm.clear_time) if alarm.HasField("clear_time") else None,
        cleared_by=alarm.cleared_by,
    )


@router.post(
    "/v1/alarm-rules",
    status_code=status.HTTP_201_CREATED,
    summary="Start watching machines for a condition",
    description=(
        "The rule is judged in the stream, within a second, on every machine of its scope "
        "(a machine, an equipment model, a station, a line or a plant): a threshold held "
        "for duration_s (cleared once back past threshold -/+ hysteresis), a rate of "
        "change, an anomaly episode of at least a severity, or a remote command that "
        "failed, was rejected or expired. At most one alarm per rule and machine is open."
    ),
    responses=error_responses(401, 403, 422, 429, 503),
)
def create_alarm_rule(
    body: CreateAlarmRuleRequest, ctx: OperatorCall, gateway: GatewayDep
) -> AlarmRuleResponse:
    _checked_signal(gateway, ctx, body)
    response = gateway.call(
        gateway.backends.servitization.CreateAlarmRule,
        pb.CreateAlarmRuleRequest(rule=_rule_message(body)),
        ctx,
    )
    return rule_body(response.rule)


@router.get(
    "/v1/alarm-rules",
    summary="The tenant's alarm rules, oldest first",
    responses=error_responses(401, 403, 422, 429, 503),
)
def list_alarm_rules(
    ctx: ViewerCall, gateway: GatewayDep, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[AlarmRuleResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListAlarmRules,
        pb.ListAlarmRulesRequest(page_size=page_size, page_token=page_token),
        ctx,
    )
    return Page(
        items=[rule_body(r) for r in response.rules], next_page_token=response.next_page_token
    )


@router.get(
    "/v1/alarm-rules/{rule_id}",
    summary="An alarm rule",
    responses=error_responses(401, 403, 404, 429, 503),
)
def get_alarm_rule(rule_id: str, ctx: ViewerCall, gateway: GatewayDep) -> AlarmRuleResponse:
    response = gateway.call(
        gateway.backends.servitization.GetAlarmRule, pb.GetAlarmRuleRequest(rule_id=rule_id), ctx
    )
    return rule_body(response.rule)


@router.delete(
    "/v1/alarm-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop an alarm rule; its open alarms are cleared",
    responses=error_responses(401, 403, 404, 429, 503),
)
def delete_alarm_rule(rule_id: str, ctx: OperatorCall, gateway: GatewayDep) -> None:
    gateway.call(
        gateway.backends.servitization.DeleteAlarmRule,
        pb.DeleteAlarmRuleRequest(rule_id=rule_id),
        ctx,
    )


AlarmStates = Annotated[AlarmStateName | None, Query(description="Only alarms in this state")]
OpenOnly = Annotated[bool, Query(description="Only open alarms (active or acknowledged)")]
MinSeverity = Annotated[Severity | None, Query(description="Only alarms at least this severe")]


def list_request(
    state: str | None, open_only: bool, equipment_id: str, rule_id: str, min_severity: str | None
) -> pb.ListAlarmsRequest:
    return pb.ListAlarmsRequest(
        state=STATES[state] if state else pb.ALARM_STATE_UNSPECIFIED,  # type: ignore[arg-type]
        open_only=open_only,
        equipment_id=equipment_id,
        rule_id=rule_id,
        min_severity=SEVERITIES[min_severity] if min_severity else pb.ALARM_SEVERITY_UNSPECIFIED,  # type: ignore[arg-type]
    )


def every_alarm(
    gateway: HttpContext, ctx: CallContext, request: pb.ListAlarmsRequest
) -> Iterator[pb.Alarm]:
    """Newest raised first, page by page."""
    request.page_size = MAX_PAGE_SIZE
    while True:
        response = gateway.call(gateway.backends.servitization.ListAlarms, request, ctx)
        yield from response.alarms
        if not response.next_page_token:
            return
        request.page_token = response.next_page_token


@router.get(
    "/v1/alarms",
    summary="The tenant's alarms, newest raised first",
    responses=error_responses(401, 403, 422, 429, 503),
)
def list_alarms(
    ctx: ViewerCall,
    gateway: GatewayDep,
    state: AlarmStates = None,
    open_only: OpenOnly = False,
    equipment_id: IdFilter = "",
    rule_id: IdFilter = "",
    min_severity: MinSeverity = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[AlarmResponse]:
    request = list_request(state, open_only, equipment_id, rule_id, min_severity)
    request.page_size, request.page_token = page_size, page_token
    response = gateway.call(gateway.backends.servitization.ListAlarms, request, ctx)
    return Page(
        items=[alarm_body(a) for a in response.alarms], next_page_token=response.next_page_token
    )


@router.get(
    "/v1/alarms/{alarm_id}",
    summary="An alarm",
    responses=error_responses(401, 403, 404, 429, 503),
)
def get_alarm(alarm_id: str, ctx: ViewerCall, gateway: GatewayDep) -> AlarmResponse:
    response = gateway.call(
        gateway.backends.servitization.GetAlarm, pb.GetAlarmRequest(alarm_id=alarm_id), ctx
    )
    return alarm_body(response.alarm)


@router.post(
    "/v1/alarms/{alarm_id}:acknowledge",
    summary="Record that you have seen an open alarm",
    description="Acknowledging an acknowledged alarm changes nothing; a cleared one is 409.",
    responses=error_responses(401, 403, 404, 409, 429, 503),
)
def acknowledge_alarm(alarm_id: str, ctx: OperatorCall, gateway: GatewayDep) -> AlarmResponse:
    response = gateway.call(
        gateway.backends.servitization.AcknowledgeAlarm,
        pb.AcknowledgeAlarmRequest(alarm_id=alarm_id),
        ctx,
    )
    return alarm_body(response.alarm)


@router.post(
    "/v1/alarms/{alarm_id}:clear",
    summary="End an open alarm by hand",
    description="Its rule raises a new alarm at the next breach. Clearing a cleared alarm "
    "changes nothing.",
    responses=error_responses(401, 403, 404, 429, 503),
)
def clear_alarm(alarm_id: str, ctx: OperatorCall, gateway: GatewayDep) -> AlarmResponse:
    response = gateway.call(
        gateway.backends.servitization.ClearAlarm, pb.ClearAlarmRequest(alarm_id=alarm_id), ctx
    )
    return alarm_body(response.alarm)
