"""Use cases of the products service; every one is scoped to a tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from imcloud_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import decode_page_token, encode_page_token, page_size
from imcloud_core.updates import checked_update_paths
from imcloud_products.domain import desired, monitoring
from imcloud_products.domain.anomaly import DetectorConfig
from imcloud_products.domain.desired import DesiredState
from imcloud_products.domain.events import (
    DesiredStateApplied,
    DesiredStateChanged,
    EpisodeClosed,
    EquipmentCreated,
    EquipmentDeleted,
    EquipmentModelCreated,
    EquipmentModelDeleted,
    EquipmentModelUpdated,
    EquipmentUpdated,
)
from imcloud_products.domain.model import (
    AnomalyEpisode,
    Equipment,
    EquipmentModel,
    SignalDefinition,
    check_equipment_fields,
    check_equipment_model_fields,
)
from imcloud_products.domain.monitoring import HealthChanges, health_score
from imcloud_products.domain.ports import (
    HealthReader,
    TelemetryReader,
    TelemetryUnitOfWork,
    UnitOfWork,
)
from imcloud_products.domain.telemetry import (
    Aggregates,
    LinkChange,
    RecordedBatch,
    ReportedState,
    SeriesPoints,
    TwinState,
    check_buckets,
    check_range,
    group_points,
    points_page_size,
    twin_state,
)

EQUIPMENT_MODEL_UPDATABLE = frozenset({"name", "manufacturer", "signals"})
EQUIPMENT_UPDATABLE = frozenset({"name", "serial_number", "station_id"})


# -- equipment models ------------------------------------------------------------


def create_equipment_model(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    name: str,
    manufacturer: str,
    signals: tuple[SignalDefinition, ...],
) -> EquipmentModel:
    now = utcnow()
    model = _checked_model(
        EquipmentModel(
            id=new_id(),
            tenant_id=tenant_id,
            name=name,
            manufacturer=manufacturer,
            signals=signals,
            create_time=now,
            update_time=now,
        )
    )
    with uow:
        _require_unique_model_name(uow, model)
        uow.equipment_models.add(model)
        uow.record(EquipmentModelCreated(model))
    return model


def get_equipment_model(uow: UnitOfWork, *, tenant_id: str, model_id: str) -> EquipmentModel:
    with uow:
        return _existing_model(uow, tenant_id, model_id)


def list_equipment_models(
    uow: UnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[EquipmentModel], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.equipment_models.list(tenant_id=tenant_id, page_size=size, page_token=page_token)


def update_equipment_model(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    model_id: str,
    update_mask: Iterable[str],
    name: str,
    manufacturer: str,
    signals: tuple[SignalDefinition, ...],
) -> EquipmentModel:
    """Changes the fields named in ``update_mask`` to the values given for them."""
    changes = _changes(
        update_mask,
        EQUIPMENT_MODEL_UPDATABLE,
        {"name": name, "manufacturer": manufacturer, "signals": signals},
    )
    with uow:
        current = _existing_model(uow, tenant_id, model_id)
        updated = _checked_model(replace(current, **changes, update_time=utcnow()))
        _require_unique_model_name(uow, updated)
        uow.equipment_models.save(updated)
        uow.record(EquipmentModelUpdated(updated))
    return updated


def delete_equipment_model(uow: UnitOfWork, *, tenant_id: str, model_id: str) -> None:
    with uow:
        model = _existing_model(uow, tenant_id, model_id)
        if uow.equipment.any_of_model(tenant_id=tenant_id, model_id=model_id):
            raise FailedPrecondition(
                f"equipment model {model_id!r} still has equipment; delete or move it first"
            )
        uow.equipment_models.remove(model)
        uow.record(EquipmentModelDeleted(model))


def _checked_model(model: EquipmentModel) -> EquipmentModel:
    check_equipment_model_fields(
        name=model.name, manufacturer=model.manufacturer, signals=model.signals
    )
    return replace(model, name=model.name.strip())


def _existing_model(uow: UnitOfWork, tenant_id: str, model_id: str) -> EquipmentModel:
    model = uow.equipment_models.get(tenant_id=tenant_id, model_id=model_id)
    if model is None:
        raise NotFound(f"equipment model {model_id!r} not found")
    return model


def _require_unique_model_name(uow: UnitOfWork, model: EquipmentModel) -> None:
    if uow.equipment_models.name_taken(
        tenant_id=model.tenant_id, name=model.name, other_than=model.id
    ):
        raise AlreadyExists(
            f"an equipment model named {model.name!r} already exists",
            violations=(FieldViolation("name", "already used by another equipment model"),),
        )


# -- equipment -------------------------------------------------------------------


def create_equipment(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    model_id: str,
    serial_number: str,
    name: str,
    station_id: str,
) -> Equipment:
    now = utcnow()
    equipment = _checked_equipment(
        Equipment(
            id=new_id(),
            tenant_id=tenant_id,
            equipment_model_id=model_id,
            serial_number=serial_number,
            name=name,
            station_id=station_id,
            create_time=now,
            update_time=now,
        )
    )
    # A machine given no name goes by its serial number.
    equipment = replace(equipment, name=equipment.name or equipment.serial_number)
    with uow:
        if uow.equipment_models.get(tenant_id=tenant_id, model_id=model_id) is None:
            raise InvalidArgument(
                "the equipment is not valid",
                violations=(
                    FieldViolation("equipment_model_id", f"no equipment model {model_id!r}"),
                ),
            )
        _require_unique_serial(uow, equipment)
        uow.equipment.add(equipment)
        uow.record(EquipmentCreated(equipment))
    return equipment


def get_equipment(uow: UnitOfWork, *, tenant_id: str, equipment_id: str) -> Equipment:
    with uow:
        return _existing_equipment(uow, tenant_id, equipment_id)


def list_equipment(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    model_id: str,
    station_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[Equipment], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.equipment.list(
            tenant_id=tenant_id,
            model_id=model_id,
            station_id=station_id,
            page_size=size,
            page_token=page_token,
        )


def update_equipment(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    update_mask: Iterable[str],
    name: str,
    serial_number: str,
    station_id: str,
) -> Equipment:
    """Changes the fields named in ``update_mask`` to the values given for them."""
    changes = _changes(
        update_mask,
        EQUIPMENT_UPDATABLE,
        {"name": name, "serial_number": serial_number, "station_id": station_id},
    )
    with uow:
        current = _existing_equipment(uow, tenant_id, equipment_id)
        updated = _checked_equipment(replace(current, **changes, update_time=utcnow()))
        _require_unique_serial(uow, updated)
        uow.equipment.save(updated)
        uow.record(EquipmentUpdated(updated))
    return updated


def delete_equipment(uow: UnitOfWork, *, tenant_id: str, equipment_id: str) -> None:
    with uow:
        equipment = _existing_equipment(uow, tenant_id, equipment_id)
        uow.equipment.remove(equipment)
        uow.desired_states.remove(tenant_id=tenant_id, equipment_id=equipment_id)
        uow.record(EquipmentDeleted(equipment))


def _checked_equipment(equipment: Equipment) -> Equipment:
    check_equipment_fields(serial_number=equipment.serial_number, name=equipment.name)
    return replace(
        equipment, serial_number=equipment.serial_number.strip(), name=equipment.name.strip()
    )


def _existing_equipment(uow: UnitOfWork, tenant_id: str, equipment_id: str) -> Equipment:
    equipment = uow.equipment.get(tenant_id=tenant_id, equipment_id=equipment_id)
    if equipment is None:
        raise NotFound(f"equipment {equipment_id!r} not found")
    return equipment


def _require_unique_serial(uow: UnitOfWork, equipment: Equipment) -> None:
    if uow.equipment.serial_taken(
        tenant_id=equipment.tenant_id,
        model_id=equipment.equipment_model_id,
        serial_number=equipment.serial_number,
        other_than=equipment.id,
    ):
        raise AlreadyExists(
            f"equipment with serial number {equipment.serial_number!r} already exists "
            "for this equipment model",
            violations=(FieldViolation("serial_number", "already registered"),),
        )


def _changes(
    update_mask: Iterable[str], updatable: frozenset[str], values: dict[str, Any]
) -> dict[str, Any]:
    """The values of the fields the mask names (refused if it names none, or others)."""
    return {path: values[path] for path in checked_update_paths(update_mask, allowed=updatable)}


# -- telemetry -------------------------------------------------------------------


def get_twin(
    uow: UnitOfWork,
    store: TelemetryReader,
    health: HealthReader,
    *,
    tenant_id: str,
    equipment_id: str,
    now_ms: int,
    offline_after_ms: int,
) -> TwinState:
    (twin,) = get_twins(
        uow,
        store,
        health,
        tenant_id=tenant_id,
        equipment_ids=[equipment_id],
        now_ms=now_ms,
        offline_after_ms=offline_after_ms,
    )
    return twin


MAX_TWINS_PER_BATCH = 100


def get_twins(
    uow: UnitOfWork,
    store: TelemetryReader,
    health: HealthReader,
    *,
    tenant_id: str,
    equipment_ids: Sequence[str],
    now_ms: int,
    offline_after_ms: int,
) -> list[TwinState]:
    """The twins of several machines, in the order asked (a fleet view); each store
    answers for all of them at once."""
    if len(equipment_ids) > MAX_TWINS_PER_BATCH:
        raise InvalidArgument(
            f"at most {MAX_TWINS_PER_BATCH} machines per call",
            violations=(FieldViolation("equipment_ids", f"{len(equipment_ids)} given"),),
        )
    with uow:
        machines = uow.equipment.get_many(tenant_id=tenant_id, equipment_ids=equipment_ids)
        unknown = [e for e in equipment_ids if e not in machines]
        if unknown:
            raise NotFound(f"equipment {unknown[0]!r} not found")
        desired = uow.desired_states.get_many(tenant_id=tenant_id, equipment_ids=equipment_ids)
    wanted = {e: desired.get(e) or DesiredState(tenant_id, e) for e in equipment_ids}
    stored = store.twins(tenant_id=tenant_id, equipment_ids=equipment_ids)
    scores = health.latest_scores(tenant_id=tenant_id, equipment_ids=equipment_ids)
    still_open = health.open_episodes(tenant_id=tenant_id, equipment_ids=equipment_ids)
    twins = []
    for equipment_id in equipment_ids:
        state = stored.get(equipment_id, ReportedState())
        twins.append(
            twin_state(
                equipment_id=equipment_id,
                reported=state.reported,
                last_seen_ms=state.last_seen_ms,
                link_open=state.link_open,
                link_change_ms=state.link_change_ms,
                now_ms=now_ms,
                offline_after_ms=offline_after_ms,
                health_score=health_score(scores.get(equipment_id)),
                open_episodes=still_open.get(equipment_id, []),
                desired=wanted[equipment_id],
            )
        )
    return twins


# -- desired state ---------------------------------------------------------------


def update_desired_state(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    desired_json: str,
    version: int | None,
    actor: str,
) -> DesiredState:
    """Merges the patch into the machine's desired properties, one version on,
    and announces it; a patch that changes nothing changes no version."""
    patch = desired.parse_patch(desired_json)
    with uow:
        current = _held_desired_state(uow, tenant_id, equipment_id)
        changed = desired.apply_patch(current, patch, version=version, actor=actor, now=utcnow())
        if changed is None:
            return current
        uow.desired_states.save(changed)
        uow.record(DesiredStateChanged(changed))
    return changed


def report_desired_state_applied(
    uow: UnitOfWork, *, tenant_id: str, equipment_id: str, version: int, detail: str
) -> int:
    """Records the version the machine applied; returns the applied version on record."""
    with uow:
        current = _held_desired_state(uow, tenant_id, equipment_id)
        applied = desired.record_applied(current, version=version, detail=detail, now=utcnow())
        if applied is None:
            return current.applied_version
        uow.desired_states.save(applied)
        uow.record(DesiredStateApplied(applied))
    return applied.applied_version


def _held_desired_state(uow: UnitOfWork, tenant_id: str, equipment_id: str) -> DesiredState:
    """The machine's desired state, held until the transaction ends."""
    _existing_equipment(uow, tenant_id, equipment_id)
    held = uow.desired_states.get(tenant_id=tenant_id, equipment_id=equipment_id, for_update=True)
    return held or DesiredState(tenant_id, equipment_id)


def list_points(
    uow: UnitOfWork,
    store: TelemetryReader,
    *,
    tenant_id: str,
    equipment_id: str,
    signals: list[str],
    start_ms: int,
    end_ms: int,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[SeriesPoints], str]:
    check_range(start_ms, end_ms)
    limit = points_page_size(requested_page_size)
    position = decode_page_token(page_token)
    after = (str(position["s"]), int(position["t"])) if position else None
    get_equipment(uow, tenant_id=tenant_id, equipment_id=equipment_id)
    rows = store.points(
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        signals=signals,
        start_ms=start_ms,
        end_ms=end_ms,
        limit=limit + 1,
        after=after,
    )
    token = ""
    if len(rows) > limit:
        rows = rows[:limit]
        token = encode_page_token({"s": rows[-1][0], "t": rows[-1][1]})
    return group_points(rows), token


def aggregate_points(
    uow: UnitOfWork,
    store: TelemetryReader,
    *,
    tenant_id: str,
    equipment_id: str,
    signals: list[str],
    start_ms: int,
    end_ms: int,
    bucket_ms: int,
) -> list[Aggregates]:
    check_buckets(start_ms, end_ms, bucket_ms)
    get_equipment(uow, tenant_id=tenant_id, equipment_id=equipment_id)
    return store.aggregates(
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        signals=signals,
        start_ms=start_ms,
        end_ms=end_ms,
        bucket_ms=bucket_ms,
    )


# -- equipment health ------------------------------------------------------------


def list_episodes(
    uow: UnitOfWork,
    reader: HealthReader,
    *,
    tenant_id: str,
    equipment_id: str,
    station_ids: list[str],
    kind: str,
    open_only: bool,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[AnomalyEpisode], str]:
    """Episodes of one machine, or of the machines at the given stations."""
    if equipment_id:
        get_equipment(uow, tenant_id=tenant_id, equipment_id=equipment_id)
    elif not station_ids:
        raise InvalidArgument(
            "say whose episodes",
            violations=(FieldViolation("equipment_id", "give a machine or station ids"),),
        )
    return reader.episodes(
        tenant_id=tenant_id,
        equipment_ids=[equipment_id] if equipment_id else None,
        station_ids=None if equipment_id else station_ids,
        kind=kind,
        open_only=open_only,
        page_size=page_size(requested_page_size),
        page_token=page_token,
    )


@dataclass(frozen=True)
class StoredTelemetry:
    # The batches new to the store, with only their points new to it; the rest
    # was delivered or sent before.
    fresh: list[RecordedBatch]
    health: HealthChanges


def record_telemetry(
    uow: TelemetryUnitOfWork,
    batches: list[RecordedBatch],
    link_changes: list[LinkChange],
    *,
    config: DetectorConfig,
) -> StoredTelemetry:
    """Stores the batches and scores their new rows, in one transaction: the
    points, the scores, the detectors' state and the episodes commit together,
    so a batch delivered again, or resent under a new sequence id, is neither
    stored nor scored twice (the detector never sees a row it has seen)."""
    with uow:
        fresh = uow.telemetry.record(batches)
        health = monitoring.assess(
            fresh,
            monitors=uow.monitors.load(sorted({b.equipment_id for b in fresh})) if fresh else {},
            signals={
                (b.tenant_id, b.equipment_id): uow.monitors.signals_of(
                    tenant_id=b.tenant_id, equipment_id=b.equipment_id
                )
                for b in fresh
            },
            config=config,
        )
        uow.telemetry.record_derived(health.scores)
        _save_health(uow, health)
        uow.telemetry.record_link_changes(link_changes)
    return StoredTelemetry(fresh=fresh, health=health)


def sweep_health(uow: TelemetryUnitOfWork, *, now_ms: int, offline_after_ms: int) -> None:
    """Announces machines going offline or coming back, and closes the open
    episodes of machines that have been silent for the quiet period."""
    with uow:
        for change in uow.telemetry.connectivity_changes(
            now_ms=now_ms, offline_after_ms=offline_after_ms
        ):
            uow.record(change)
        silent = uow.monitors.silent_with_open_episodes(now_ms - monitoring.EPISODE_QUIET_PERIOD_MS)
        quiet = uow.monitors.load(silent)
        _save_health(uow, monitoring.close_quiet(list(quiet.values()), now_ms))


def reset_anomaly_model(
    uow: UnitOfWork, health: TelemetryUnitOfWork, *, tenant_id: str, equipment_id: str
) -> int:
    """Forgets what the machine's detector learned and closes its open episodes
    (announcing it); returns how many were closed."""
    get_equipment(uow, tenant_id=tenant_id, equipment_id=equipment_id)
    with health:
        health.monitors.forget(tenant_id=tenant_id, equipment_id=equipment_id)
        closed = [
            replace(episode, closed=True)
            for episode in health.episodes.open_of(tenant_id=tenant_id, equipment_id=equipment_id)
        ]
        health.episodes.save(closed)
        for episode in closed:
            health.record(EpisodeClosed(episode))
    return len(closed)


def _save_health(uow: TelemetryUnitOfWork, changes: HealthChanges) -> None:
    uow.monitors.save(changes.monitors)
    uow.episodes.save(changes.episodes)
    for event in changes.events:
        uow.record(event)
