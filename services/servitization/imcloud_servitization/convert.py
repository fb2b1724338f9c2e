"""Domain objects to protobuf messages and back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from imcloud.production.v1 import catalog_pb2, schedule_pb2
from imcloud.products.v1 import equipment_events_pb2
from imcloud.servitization.v1 import alarms_pb2, commands_pb2, customization_pb2, jobs_pb2
from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud_core.convert import timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_servitization.domain.alarms import (
    Alarm,
    AlarmRule,
    AlarmScope,
    AlarmSeverity,
    AlarmState,
    CommandFailed,
    Condition,
    EpisodeRaised,
    KpiMissed,
    NoData,
    RateOfChange,
    ScopeKind,
    Threshold,
)
from imcloud_servitization.domain.commands import MAX_PARAMETERS_BYTES
from imcloud_servitization.domain.configurator import SelectedBomLine, SelectedStep
from imcloud_servitization.domain.customization import (
    Configured,
    CustomerOrder,
    Genealogy,
    GenealogyOperation,
    OrderState,
    ProductFamily,
    Quote,
    QuoteState,
)
from imcloud_servitization.domain.jobs import (
    ExecutionState,
    FleetJob,
    JobAction,
    JobCommand,
    JobDesiredChange,
    JobExecution,
    JobState,
    JobTarget,
    TargetKind,
)
from imcloud_servitization.domain.model import (
    CommandState,
    MaintenanceBooking,
    MaintenanceTicket,
    MaintenanceWindow,
    RemoteCommand,
    TicketChange,
    TicketNote,
    TicketPriority,
    TicketState,
)

PRIORITIES = {
    TicketPriority.LOW: pb.TICKET_PRIORITY_LOW,
    TicketPriority.MEDIUM: pb.TICKET_PRIORITY_MEDIUM,
    TicketPriority.HIGH: pb.TICKET_PRIORITY_HIGH,
    TicketPriority.CRITICAL: pb.TICKET_PRIORITY_CRITICAL,
}
PRIORITIES_BY_MESSAGE: dict[int, TicketPriority] = {
    number: priority for priority, number in PRIORITIES.items()
}
STATES = {
    TicketState.OPEN: pb.TICKET_STATE_OPEN,
    TicketState.SCHEDULED: pb.TICKET_STATE_SCHEDULED,
    TicketState.IN_PROGRESS: pb.TICKET_STATE_IN_PROGRESS,
    TicketState.RESOLVED: pb.TICKET_STATE_RESOLVED,
    TicketState.DISMISSED: pb.TICKET_STATE_DISMISSED,
}
STATES_BY_MESSAGE: dict[int, TicketState] = {number: state for state, number in STATES.items()}


def priority(message_value: int) -> TicketPriority:
    # Unspecified means the everyday case.
    return PRIORITIES_BY_MESSAGE.get(message_value, TicketPriority.MEDIUM)


def ticket_message(ticket: MaintenanceTicket) -> pb.MaintenanceTicket:
    return pb.MaintenanceTicket(
        id=ticket.id,
        equipment_id=ticket.equipment_id,
        title=ticket.title,
        description=ticket.description,
        priority=PRIORITIES[ticket.priority],
        state=STATES[ticket.state],
        create_time=timestamp(ticket.create_time),
        update_time=timestamp(ticket.update_time),
        source_episode_id=ticket.source_episode_id,
        assignee=ticket.assignee,
        booking=booking_message(ticket.booking) if ticket.booking else None,
    )


def booking_message(booking: MaintenanceBooking) -> pb.MaintenanceBooking:
    return pb.MaintenanceBooking(
        planned_downtime_id=booking.planned_downtime_id,
        plant_id=booking.plant_id,
        station_id=booking.station_id,
        start_time=timestamp(booking.start_time),
        end_time=timestamp(booking.end_time),
    )


def note_message(note: TicketNote) -> pb.TicketNote:
    return pb.TicketNote(
        id=note.id, author=note.author, text=note.text, create_time=timestamp(note.create_time)
    )


def change_message(change: TicketChange) -> pb.TicketChange:
    return pb.TicketChange(
        actor=change.actor,
        change_time=timestamp(change.change_time),
        field=change.field,
        from_value=change.from_value,
        to_value=change.to_value,
        detail=change.detail,
    )


def window_message(window: MaintenanceWindow) -> schedule_pb2.MaintenanceWindow:
    return schedule_pb2.MaintenanceWindow(
        station_id=window.station_id,
        plant_id=window.plant_id,
        start_time=timestamp(window.start_time),
        end_time=timestamp(window.end_time),
        displaced_operation_s=window.displaced_operation_s,
        idle_s=window.idle_s,
        planned_stop_s=window.planned_stop_s,
        non_working_s=window.non_working_s,
        delayed_work_orders=[
            schedule_pb2.DelayedWorkOrder(
                work_order_id=order.work_order_id,
                delay_s=order.delay_s,
                added_lateness_s=order.added_lateness_s,
            )
            for order in window.delayed_work_orders
        ],
        added_lateness_s=window.added_lateness_s,
        explanation=window.explanation,
    )


COMMAND_STATES = {
    CommandState.PENDING: commands_pb2.COMMAND_STATE_PENDING,
    CommandState.DELIVERED: commands_pb2.COMMAND_STATE_DELIVERED,
    CommandState.SUCCEEDED: commands_pb2.COMMAND_STATE_SUCCEEDED,
    CommandState.FAILED: commands_pb2.COMMAND_STATE_FAILED,
    CommandState.REJECTED: commands_pb2.COMMAND_STATE_REJECTED,
    CommandState.EXPIRED: commands_pb2.COMMAND_STATE_EXPIRED,
    CommandState.CANCELLED: commands_pb2.COMMAND_STATE_CANCELLED,
}
COMMAND_STATES_BY_MESSAGE = {number: state for state, number in COMMAND_STATES.items()}


def command_message(command: RemoteCommand) -> commands_pb2.RemoteCommand:
    return commands_pb2.RemoteCommand(
        id=command.id,
        equipment_id=command.equipment_id,
        name=command.name,
        state=COMMAND_STATES[command.state],
        detail=command.detail,
        requested_by=command.requested_by,
        create_time=timestamp(command.create_time),
        update_time=timestamp(command.update_time),
        expire_time=timestamp(command.expire_time),
        parameters_json=json.dumps(command.parameters),
        cancelled_by=command.cancelled_by,
        attempts=command.attempts,
        late=command.late,
        job_id=command.job_id,
    )


def parameters_from(parameters_json: str) -> dict[str, Any]:
    """The command's parameters from their JSON text; empty means none."""
    if len(parameters_json) > MAX_PARAMETERS_BYTES:
        raise _bad_parameters(f"at most {MAX_PARAMETERS_BYTES} bytes as JSON")
    if not parameters_json:
        return {}
    try:
        parameters = json.loads(parameters_json, parse_constant=_not_a_number)
    except (ValueError, RecursionError):
        raise _bad_parameters("must be a JSON object") from None
    if not isinstance(parameters, dict):
        raise _bad_parameters("must be a JSON object")
    return parameters


def _not_a_number(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _bad_parameters(reason: str) -> InvalidArgument:
    return InvalidArgument(
        "the command is not valid", violations=(FieldViolation("parameters", reason),)
    )


JOB_STATES = {
    JobState.IN_PROGRESS: jobs_pb2.JOB_STATE_IN_PROGRESS,
    JobState.COMPLETED: jobs_pb2.JOB_STATE_COMPLETED,
    JobState.ABORTED: jobs_pb2.JOB_STATE_ABORTED,
    JobState.CANCELLED: jobs_pb2.JOB_STATE_CANCELLED,
}
EXECUTION_STATES = {
    ExecutionState.QUEUED: jobs_pb2.EXECUTION_STATE_QUEUED,
    ExecutionState.PENDING: jobs_pb2.EXECUTION_STATE_PENDING,
    ExecutionState.DELIVERED: jobs_pb2.EXECUTION_STATE_DELIVERED,
    ExecutionState.SUCCEEDED: jobs_pb2.EXECUTION_STATE_SUCCEEDED,
    ExecutionState.FAILED: jobs_pb2.EXECUTION_STATE_FAILED,
    ExecutionState.REJECTED: jobs_pb2.EXECUTION_STATE_REJECTED,
    ExecutionState.EXPIRED: jobs_pb2.EXECUTION_STATE_EXPIRED,
    ExecutionState.CANCELLED: jobs_pb2.EXECUTION_STATE_CANCELLED,
}
EXECUTION_STATES_BY_MESSAGE = {number: state for state, number in EXECUTION_STATES.items()}
# The JobTarget oneof field naming each kind of target.
TARGET_FIELDS = {
    TargetKind.EQUIPMENT: "equipment",
    TargetKind.EQUIPMENT_MODEL: "equipment_model_id",
    TargetKind.LINE: "line_id",
    TargetKind.PLANT: "plant_id",
    TargetKind.GRANTED_MACHINES: "granted_machines",
}
TARGET_KINDS_BY_FIELD = {name: kind for kind, name in TARGET_FIELDS.items()}


def job_target(message: jobs_pb2.JobTarget) -> JobTarget:
    chosen = message.WhichOneof("kind")
    if chosen is None:
        raise InvalidArgument(
            "the job is not valid",
            violations=(FieldViolation("target", "name the machines, a model, line or plant"),),
        )
    kind = TARGET_KINDS_BY_FIELD[chosen]
    value = getattr(message, chosen)
    return JobTarget(kind, value if isinstance(value, str) else "")


def job_target_message(target: JobTarget) -> jobs_pb2.JobTarget:
    # A list of machines is shown by the job's executions, not repeated here.
    if target.kind is TargetKind.EQUIPMENT:
        return jobs_pb2.JobTarget(equipment=jobs_pb2.EquipmentList())
    if target.kind is TargetKind.GRANTED_MACHINES:
        return jobs_pb2.JobTarget(granted_machines=True)
    message = jobs_pb2.JobTarget()
    setattr(message, TARGET_FIELDS[target.kind], target.id)
    return message


def job_message(job: FleetJob) -> jobs_pb2.FleetJob:
    counts = {state.value: job.summary.of(state) for state in ExecutionState}
    message = jobs_pb2.FleetJob(
        id=job.id,
        target=job_target_message(job.target),
        rollout=jobs_pb2.JobRollout(machines_per_minute=job.machines_per_minute),
        abort_criteria=jobs_pb2.JobAbortCriteria(
            failed_percent=job.failed_percent, min_ended=job.min_ended
        ),
        state=JOB_STATES[job.state],
        machine_count=job.machine_count,
        summary=jobs_pb2.JobSummary(**counts),
        detail=job.detail,
        requested_by=job.requested_by,
        through_grants=job.through_grants,
        create_time=timestamp(job.create_time),
        update_time=timestamp(job.update_time),
    )
    if job.end_time is not None:
        message.end_time.CopyFrom(timestamp(job.end_time))
    if isinstance(job.action, JobDesiredChange):
        message.desired_change.CopyFrom(
            jobs_pb2.JobDesiredChange(
                desired_json=json.dumps(job.action.patch), timeout_s=job.action.timeout_s
            )
        )
    else:
        message.command.CopyFrom(
            jobs_pb2.JobCommand(
                name=job.action.name,
                parameters_json=json.dumps(job.action.parameters),
                timeout_s=job.action.timeout_s,
            )
        )
    return message


def job_action(request: jobs_pb2.CreateJobRequest) -> JobAction:
    """The command or the desired-state change a job request asks for (exactly one)."""
    if request.HasField("command") == request.HasField("desired_change"):
        raise InvalidArgument(
            "the job is not valid",
            violations=(FieldViolation("command", "set exactly one of command, desired_change"),),
        )
    if request.HasField("desired_change"):
        change = request.desired_change
        return JobDesiredChange(_json_object(change.desired_json), change.timeout_s)
    command = request.command
    return JobCommand(command.name, parameters_from(command.parameters_json), command.timeout_s)


def _json_object(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text or "{}", parse_constant=_not_a_number)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise InvalidArgument(
            "the job is not valid",
            violations=(FieldViolation("desired_change.desired_json", "must be a JSON object"),),
        )
    return document


def execution_message(execution: JobExecution) -> jobs_pb2.JobExecution:
    message = jobs_pb2.JobExecution(
        job_id=execution.job_id,
        equipment_id=execution.equipment_id,
        state=EXECUTION_STATES[execution.state],
        command_id=execution.command_id,
        detail=execution.detail,
        update_time=timestamp(execution.update_time),
        desired_version=execution.desired_version or 0,
    )
    if execution.start_time is not None:
        message.start_time.CopyFrom(timestamp(execution.start_time))
    return message


# -- mass customization ----------------------------------------------------------------

QUOTE_STATES = {
    QuoteState.OPEN: customization_pb2.QUOTE_STATE_OPEN,
    QuoteState.ACCEPTED: customization_pb2.QUOTE_STATE_ACCEPTED,
    QuoteState.EXPIRED: customization_pb2.QUOTE_STATE_EXPIRED,
}
ORDER_STATES = {
    OrderState.ACCEPTED: customization_pb2.ORDER_STATE_ACCEPTED,
    OrderState.SCHEDULED: customization_pb2.ORDER_STATE_SCHEDULED,
    OrderState.IN_PRODUCTION: customization_pb2.ORDER_STATE_IN_PRODUCTION,
    OrderState.COMPLETED: customization_pb2.ORDER_STATE_COMPLETED,
    OrderState.SHIPPED: customization_pb2.ORDER_STATE_SHIPPED,
    OrderState.CANCELLED: customization_pb2.ORDER_STATE_CANCELLED,
}
ORDER_STATES_BY_MESSAGE = {number: state for state, number in ORDER_STATES.items()}


def family_message(family: ProductFamily) -> customization_pb2.ProductFamily:
    return customization_pb2.ProductFamily(
        id=family.id,
        name=family.name,
        definition_json=family.definition_json,
        revision=family.revision,
        create_time=timestamp(family.create_time),
        update_time=timestamp(family.update_time),
    )


def configuration_message(configured: Configured) -> customization_pb2.Configuration:
    configuration = configured.configuration
    return customization_pb2.Configuration(
        selections_json=json.dumps(dict(configuration.selections)),
        complete=configuration.complete,
        domains=[
            customization_pb2.OptionDomain(
                option=domain.option,
                selected_json="" if domain.selected is None else json.dumps(domain.selected),
                values_json="" if domain.values is None else json.dumps(list(domain.values)),
                ranges=[
                    customization_pb2.NumberRange(min=low, max=high)
                    for low, high in domain.ranges or ()
                ],
            )
            for domain in configuration.domains
        ],
        derived_json=json.dumps(dict(configuration.derived)),
        unit_price=configuration.unit_price or 0.0,
        currency=configured.currency,
        family_revision=configured.family_revision,
    )


def bom_messages(bom: Sequence[SelectedBomLine]) -> list[catalog_pb2.BomLine]:
    return [
        catalog_pb2.BomLine(
            component_part_number=line.component_part_number, quantity=line.quantity, unit=line.unit
        )
        for line in bom
    ]


def routing_messages(routing: Sequence[SelectedStep]) -> list[catalog_pb2.RoutingStep]:
    return [
        catalog_pb2.RoutingStep(
            name=step.name,
            capability=step.capability,
            setup_time_s=step.setup_time_s,
            ideal_cycle_time_s=step.ideal_cycle_time_s,
            recipe_json=json.dumps(dict(step.recipe)) if step.recipe else "",
        )
        for step in routing
    ]


def quote_message(quote: Quote) -> customization_pb2.Quote:
    return customization_pb2.Quote(
        id=quote.id,
        family_id=quote.family_id,
        family_revision=quote.family_revision,
        selections_json=json.dumps(dict(quote.selections)),
        derived_json=json.dumps(dict(quote.derived)),
        quantity=quote.quantity,
        unit_price=quote.unit_price,
        total_price=quote.total_price,
        currency=quote.currency,
        promised_time=timestamp(quote.promised_time),
        lead_time_s=quote.lead_time_s,
        schedule_explanation=quote.schedule_explanation,
        state=QUOTE_STATES[quote.state],
        expire_time=timestamp(quote.expire_time),
        customer_reference=quote.customer_reference,
        create_time=timestamp(quote.create_time),
        bom=bom_messages(quote.bom),
        routing=routing_messages(quote.routing),
        order_id=quote.order_id,
    )


def order_message(order: CustomerOrder) -> customization_pb2.CustomerOrder:
    return customization_pb2.CustomerOrder(
        id=order.id,
        quote_id=order.quote_id,
        family_id=order.family_id,
        family_name=order.family_name,
        selections_json=json.dumps(dict(order.selections)),
        derived_json=json.dumps(dict(order.derived)),
        quantity=order.quantity,
        total_price=order.total_price,
        currency=order.currency,
        customer_reference=order.customer_reference,
        state=ORDER_STATES[order.state],
        stages=[
            customization_pb2.OrderStage(
                state=ORDER_STATES[stage.state], time=timestamp(stage.time), detail=stage.detail
            )
            for stage in order.stages
        ],
        work_order_id=order.work_order_id,
        plant_id=order.plant_id,
        promised_time=timestamp(order.promised_time),
        create_time=timestamp(order.create_time),
    )


def genealogy_message(genealogy: Genealogy) -> customization_pb2.Genealogy:
    return customization_pb2.Genealogy(
        order=order_message(genealogy.order),
        bom=bom_messages(genealogy.bom),
        work_order_id=genealogy.work_order_id,
        operations=[_genealogy_operation(traced) for traced in genealogy.operations],
        quality_records=[
            customization_pb2.GenealogyQualityRecord(
                id=record.id,
                sequence=record.sequence,
                station_id=record.station_id,
                defect_code=record.defect_code,
                quantity=record.quantity,
                scrapped=record.scrapped,
                note=record.note,
                record_time=timestamp(record.record_time),
            )
            for record in genealogy.quality_records
        ],
    )


def _genealogy_operation(traced: GenealogyOperation) -> customization_pb2.GenealogyOperation:
    operation = traced.operation
    message = customization_pb2.GenealogyOperation(
        sequence=operation.sequence,
        name=operation.name,
        station_id=operation.station_id,
        recipe_json=operation.recipe_json,
        good_quantity=operation.good_quantity,
        scrap_quantity=operation.scrap_quantity,
        equipment=[
            customization_pb2.GenealogyEquipment(
                equipment_id=machine.equipment_id,
                recipe_version=machine.recipe_version,
                signals=[
                    customization_pb2.GenealogySignal(
                        signal=s.signal, count=s.count, min=s.min, max=s.max, mean=s.mean
                    )
                    for s in machine.signals
                ],
            )
            for machine in traced.equipment
        ],
    )
    if operation.start_time is not None:
        message.start_time.CopyFrom(timestamp(operation.start_time))
    if operation.end_time is not None:
        message.end_time.CopyFrom(timestamp(operation.end_time))
    return message


# -- alarms ---------------------------------------------------------------------

ALARM_SEVERITIES = {
    alarms_pb2.ALARM_SEVERITY_INFO: AlarmSeverity.INFO,
    alarms_pb2.ALARM_SEVERITY_WARNING: AlarmSeverity.WARNING,
    alarms_pb2.ALARM_SEVERITY_MAJOR: AlarmSeverity.MAJOR,
    alarms_pb2.ALARM_SEVERITY_CRITICAL: AlarmSeverity.CRITICAL,
}
ALARM_SEVERITY_MESSAGES = {severity: value for value, severity in ALARM_SEVERITIES.items()}
ALARM_STATES = {
    alarms_pb2.ALARM_STATE_ACTIVE: AlarmState.ACTIVE,
    alarms_pb2.ALARM_STATE_ACKNOWLEDGED: AlarmState.ACKNOWLEDGED,
    alarms_pb2.ALARM_STATE_CLEARED: AlarmState.CLEARED,
}
ALARM_STATE_MESSAGES = {state: value for value, state in ALARM_STATES.items()}
EPISODE_SEVERITIES = {
    equipment_events_pb2.EPISODE_SEVERITY_LOW: "low",
    equipment_events_pb2.EPISODE_SEVERITY_MEDIUM: "medium",
    equipment_events_pb2.EPISODE_SEVERITY_HIGH: "high",
}
EPISODE_SEVERITY_MESSAGES = {name: value for value, name in EPISODE_SEVERITIES.items()}
KPIS = {
    alarms_pb2.KPI_OEE: "oee",
    alarms_pb2.KPI_AVAILABILITY: "availability",
    alarms_pb2.KPI_PERFORMANCE: "performance",
    alarms_pb2.KPI_QUALITY: "quality",
    alarms_pb2.KPI_SCRAP_RATE: "scrap_rate",
}
KPI_MESSAGES = {name: value for value, name in KPIS.items()}
CONDITIONS = "one of threshold, rate_of_change, no_data, episode, command, kpi"


def alarm_rule(message: alarms_pb2.AlarmRule, tenant_id: str) -> AlarmRule:
    """A rule from a request; what the message leaves unset is refused by field."""
    problems = []
    severity = ALARM_SEVERITIES.get(message.severity)
    if severity is None:
        problems.append(FieldViolation("severity", "info, warning, major or critical"))
    scope_kind = message.scope.WhichOneof("kind")
    if scope_kind is None:
        problems.append(FieldViolation("scope", "name one machine, model, station, line or plant"))
    condition: Condition | None = None
    match message.WhichOneof("condition"):
        case "threshold":
            t = message.threshold
            condition = Threshold(t.signal, t.above, t.threshold, t.duration_s, t.hysteresis)
        case "rate_of_change":
            r = message.rate_of_change
            condition = RateOfChange(r.signal, r.max_rate_per_s)
        case "episode":
            minimum = EPISODE_SEVERITIES.get(message.episode.min_severity)
            if minimum is None:
                problems.append(FieldViolation("episode.min_severity", "low, medium or high"))
            condition = EpisodeRaised(minimum or "")
        case "command":
            condition = CommandFailed()
        case "no_data":
            condition = NoData(message.no_data.signal, message.no_data.duration_s)
        case "kpi":
            kpi = KPIS.get(message.kpi.kpi)
            if kpi is None:
                problems.append(FieldViolation("kpi.kpi", ", ".join(KPIS.values())))
            condition = KpiMissed(kpi or "", message.kpi.target)
        case None:
            problems.append(FieldViolation("condition", CONDITIONS))
    if problems or severity is None or scope_kind is None or condition is None:
        raise InvalidArgument("the alarm rule is not valid", violations=tuple(problems))
    return AlarmRule(
        id="",
        tenant_id=tenant_id,
        name=message.name,
        severity=severity,
        scope=AlarmScope(
            ScopeKind(scope_kind.removesuffix("_id")), getattr(message.scope, scope_kind)
        ),
        condition=condition,
        # Set by the service when it stores the rule.
        create_time=datetime.fromtimestamp(0, UTC),
    )


def alarm_rule_message(rule: AlarmRule) -> alarms_pb2.AlarmRule:
    message = alarms_pb2.AlarmRule(
        id=rule.id,
        name=rule.name,
        severity=ALARM_SEVERITY_MESSAGES[rule.severity],
        scope=alarms_pb2.AlarmScope(**{f"{rule.scope.kind.value}_id": rule.scope.id}),
        create_time=timestamp(rule.create_time),
    )
    match rule.condition:
        case Threshold() as t:
            message.threshold.CopyFrom(
                alarms_pb2.ThresholdCondition(
                    signal=t.signal,
                    above=t.above,
                    threshold=t.threshold,
                    duration_s=t.duration_s,
                    hysteresis=t.hysteresis,
                )
            )
        case RateOfChange() as r:
            message.rate_of_change.CopyFrom(
                alarms_pb2.RateOfChangeCondition(signal=r.signal, max_rate_per_s=r.max_rate_per_s)
            )
        case EpisodeRaised(min_severity=minimum):
            message.episode.min_severity = EPISODE_SEVERITY_MESSAGES[minimum]
        case CommandFailed():
            message.command.SetInParent()
        case NoData() as n:
            message.no_data.CopyFrom(
                alarms_pb2.NoDataCondition(signal=n.signal, duration_s=n.duration_s)
            )
        case KpiMissed() as k:
            message.kpi.CopyFrom(
                alarms_pb2.KpiCondition(kpi=KPI_MESSAGES[k.kpi], target=k.target)  # type: ignore[arg-type]
            )
    return message


def alarm_message(alarm: Alarm) -> alarms_pb2.Alarm:
    message = alarms_pb2.Alarm(
        id=alarm.id,
        rule_id=alarm.rule_id,
        rule_name=alarm.rule_name,
        severity=ALARM_SEVERITY_MESSAGES[alarm.severity],
        state=ALARM_STATE_MESSAGES[alarm.state],
        equipment_id=alarm.equipment_id,
        detail=alarm.detail,
        value=alarm.value,
        raise_time=timestamp(alarm.raise_time),
        acknowledged_by=alarm.acknowledged_by,
        cleared_by=alarm.cleared_by,
    )
    if alarm.acknowledge_time is not None:
        message.acknowledge_time.CopyFrom(timestamp(alarm.acknowledge_time))
    if alarm.clear_time is not None:
        message.clear_time.CopyFrom(timestamp(alarm.clear_time))
    return message
