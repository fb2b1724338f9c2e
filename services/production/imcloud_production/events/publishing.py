"""Domain events of the production service as messages on its topic."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from imcloud.production.v1 import events_pb2
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_production.convert import (
    SCHEDULE_STATUSES,
    downtime_message,
    eta_message,
    resource_message,
    trigger_message,
    unscheduled_messages,
    work_order_message,
)
from imcloud_production.domain.events import (
    Change,
    DowntimeChanged,
    ScheduleChanged,
    StructureChanged,
    WorkOrderChange,
    WorkOrderChanged,
)
from imcloud_production.domain.model import Line, Plant, Station, plant_id_of

SOURCE = "production"

# Each message has one field, named after the resource's kind ("plant", ...).
MESSAGES: dict[tuple[type, Change], type[Message]] = {
    (Plant, Change.CREATED): events_pb2.PlantCreated,
    (Plant, Change.UPDATED): events_pb2.PlantUpdated,
    (Plant, Change.DELETED): events_pb2.PlantDeleted,
    (Line, Change.CREATED): events_pb2.LineCreated,
    (Line, Change.UPDATED): events_pb2.LineUpdated,
    (Line, Change.DELETED): events_pb2.LineDeleted,
    (Station, Change.CREATED): events_pb2.StationCreated,
    (Station, Change.UPDATED): events_pb2.StationUpdated,
    (Station, Change.DELETED): events_pb2.StationDeleted,
}


WORK_ORDER_MESSAGES: dict[WorkOrderChange, type[Message]] = {
    WorkOrderChange.CREATED: events_pb2.WorkOrderCreated,
    WorkOrderChange.RELEASED: events_pb2.WorkOrderReleased,
    WorkOrderChange.STARTED: events_pb2.WorkOrderStarted,
    WorkOrderChange.PROGRESSED: events_pb2.WorkOrderProgressed,
    WorkOrderChange.COMPLETED: events_pb2.WorkOrderCompleted,
    WorkOrderChange.CANCELLED: events_pb2.WorkOrderCancelled,
}


def to_outbox_entry(event: Any) -> OutboxEntry:
    match event:
        case StructureChanged():
            return _structure_entry(event)
        case WorkOrderChanged(change=change, order=order):
            envelope = new_envelope(
                tenant_id=order.tenant_id,
                event_type=f"work_order.{change}",
                payload=WORK_ORDER_MESSAGES[change](work_order=work_order_message(order)),
                source=SOURCE,
                occurred_at=event.occurred_at,
            )
            return OutboxEntry(Topic.PRODUCTION_EVENTS, order.plant_id, envelope)
        case DowntimeChanged(ended=ended, downtime=downtime):
            message = events_pb2.DowntimeEnded if ended else events_pb2.DowntimeStarted
            envelope = new_envelope(
                tenant_id=downtime.tenant_id,
                event_type="downtime.ended" if ended else "downtime.started",
                payload=message(downtime=downtime_message(downtime), plant_id=downtime.plant_id),
                source=SOURCE,
                occurred_at=event.occurred_at,
            )
            return OutboxEntry(Topic.PRODUCTION_EVENTS, downtime.plant_id, envelope)
        case ScheduleChanged(schedule=schedule, changed=changed):
            envelope = new_envelope(
                tenant_id=schedule.tenant_id,
                event_type="schedule.changed",
                payload=events_pb2.ScheduleChanged(
                    plant_id=schedule.plant_id,
                    revision=schedule.revision,
                    status=SCHEDULE_STATUSES[schedule.status],
                    triggers=[trigger_message(trigger) for trigger in schedule.triggers],
                    etas=[eta_message(eta) for eta in changed],
                    unscheduled=unscheduled_messages(schedule.unscheduled),
                    reason=schedule.reason,
                ),
                source=SOURCE,
                occurred_at=event.occurred_at,
            )
            return OutboxEntry(Topic.PRODUCTION_EVENTS, schedule.plant_id, envelope)
    raise TypeError(f"no message for domain event {type(event).__name__}")


def _structure_entry(event: StructureChanged) -> OutboxEntry:
    resource = event.resource
    message_type = MESSAGES[type(resource), event.change]
    envelope = new_envelope(
        tenant_id=resource.tenant_id,
        event_type=f"{resource.KIND}.{event.change}",
        payload=message_type(**{resource.KIND: resource_message(resource)}),
        source=SOURCE,
        occurred_at=event.occurred_at,
    )
    # Keyed by plant, so one plant's structure changes stay in order.
    return OutboxEntry(Topic.PRODUCTION_EVENTS, plant_id_of(resource), envelope)
