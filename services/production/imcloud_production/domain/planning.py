"""Use cases that say how production is planned: calendars, planned downtime,
products with their routings, and how machines report their state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from imcloud_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
)
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import MAX_PAGE_SIZE, every_page, page_size
from imcloud_production.domain import calendar as calendars
from imcloud_production.domain.calendar import Calendar, CalendarHistory, ShiftOccurrence
from imcloud_production.domain.catalog import (
    Product,
    StateMapping,
    checked_mapping,
    checked_product,
)
from imcloud_production.domain.execution import PlannedDowntime
from imcloud_production.domain.model import Plant, Station, not_found
from imcloud_production.domain.ports import ExecutionUnitOfWork
from imcloud_production.domain.scheduling import triggers
from imcloud_production.domain.work_orders import first_pass_yield

SHIFT_RANGE_MAX = timedelta(days=31)
# How far back a new calendar may apply: that time is counted again.
RECOUNT_MAX = timedelta(days=31)
DOWNTIME_MAX = timedelta(days=31)
REASON_MAX = 500


def plant_of(uow: ExecutionUnitOfWork, tenant_id: str, plant_id: str) -> Plant:
    plant = uow.plants.get(tenant_id=tenant_id, resource_id=plant_id)
    if plant is None:
        raise not_found("plant", plant_id)
    return plant


def empty_calendar(plant: Plant) -> Calendar:
    return Calendar(plant_id=plant.id, time_zone=plant.time_zone, shifts=(), holidays=())


def history_of(uow: ExecutionUnitOfWork, plant: Plant) -> CalendarHistory:
    return uow.calendars.history(
        tenant_id=plant.tenant_id, plant_id=plant.id, time_zone=plant.time_zone
    )


def calendar_of(uow: ExecutionUnitOfWork, plant: Plant) -> Calendar:
    """The calendar set last (the one whose rules apply to what comes in now)."""
    return history_of(uow, plant).latest or empty_calendar(plant)


# -- calendars -------------------------------------------------------------------


@dataclass(frozen=True)
class SetCalendar:
    calendar: Calendar
    effective: datetime
    update_time: datetime
    recounted_minutes: int


def set_calendar(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    calendar: Calendar,
    effective: datetime | None = None,
) -> SetCalendar:
    """Gives the plant ``calendar`` from ``effective`` (default now) on; the time
    already counted since then is judged planned or not again."""
    now = utcnow()
    effective = effective or calendars.minute_floor(now)
    if effective != calendars.minute_floor(effective):
        raise InvalidArgument(
            "the effective time is not on a whole minute",
            violations=(FieldViolation("effective_time", "must be on a whole minute"),),
        )
    if effective < now - RECOUNT_MAX:
        raise InvalidArgument(
            f"a calendar applies at most {RECOUNT_MAX.days} days back",
            violations=(FieldViolation("effective_time", f"at most {RECOUNT_MAX.days} days ago"),),
        )
    with uow:
        plant = plant_of(uow, tenant_id, calendar.plant_id)
        checked = calendars.checked_calendar(
            Calendar(
                plant_id=plant.id,
                time_zone=plant.time_zone,
                shifts=calendar.shifts,
                holidays=calendar.holidays,
                small_stop_threshold_s=calendar.small_stop_threshold_s,
                startup_window_s=calendar.startup_window_s,
            )
        )
        uow.calendars.put(checked, tenant_id=tenant_id, effective=effective, update_time=now)
        triggers.requested(
            uow,
            tenant_id=tenant_id,
            plant_id=plant.id,
            trigger=triggers.calendar_trigger(plant.id, now),
        )
        recounted = 0
        if effective < now:
            history = history_of(uow, plant)
            booked = uow.planned_downtimes.overlapping(
                tenant_id=tenant_id, plant_id=plant.id, start=effective, end=now
            )
            for station in all_stations(uow, tenant_id=tenant_id, plant_id=plant.id):
                downtime = [(d.start_time, d.end_time) for d in booked if d.applies_to(station.id)]
                windows = calendars.history_windows(history, effective, now, downtime)
                planned = {
                    minute
                    for start, end in windows
                    for minute in range(_ms(start), _ms(end), 60_000)
                }
                recounted += uow.timeline.recount(
                    station_id=station.id,
                    start_ms=_ms(effective),
                    end_ms=_ms(now),
                    planned=planned.__contains__,
                )
        return SetCalendar(checked, effective, now, recounted)


def get_calendar(
    uow: ExecutionUnitOfWork, *, tenant_id: str, plant_id: str
) -> tuple[Calendar, tuple[datetime, datetime] | None]:
    """The calendar set last, and its (effective time, update time) if any was."""
    with uow:
        plant = plant_of(uow, tenant_id, plant_id)
        return calendar_of(uow, plant), uow.calendars.latest_times(
            tenant_id=tenant_id, plant_id=plant_id
        )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def list_shifts(
    uow: ExecutionUnitOfWork, *, tenant_id: str, plant_id: str, start: datetime, end: datetime
) -> list[ShiftOccurrence]:
    checked_range(start, end, longest=SHIFT_RANGE_MAX)
    with uow:
        plant = plant_of(uow, tenant_id, plant_id)
        return calendars.history_shifts(history_of(uow, plant), start, end)


def checked_range(start: datetime, end: datetime, *, longest: timedelta) -> None:
    if end <= start:
        raise InvalidArgument(
            "the range ends before it starts",
            violations=(FieldViolation("end_time", "must be after start_time"),),
        )
    if end - start > longest:
        raise InvalidArgument(
            f"the range is longer than {longest.days} days",
            violations=(
                FieldViolation("end_time", f"at most {longest.days} days after start_time"),
            ),
        )


# -- planned downtime ----------------------------------------------------------


def create_planned_downtime(
    uow: ExecutionUnitOfWork, *, downtime: PlannedDowntime
) -> PlannedDowntime:
    now = utcnow()
    violations = []
    if downtime.start_time != calendars.minute_floor(downtime.start_time):
        violations.append(FieldViolation("start_time", "must be on a whole minute"))
    if downtime.end_time != calendars.minute_floor(downtime.end_time):
        violations.append(FieldViolation("end_time", "must be on a whole minute"))
    if downtime.end_time <= downtime.start_time:
        violations.append(FieldViolation("end_time", "must be after start_time"))
    elif downtime.end_time - downtime.start_time > DOWNTIME_MAX:
        violations.append(FieldViolation("end_time", "at most 31 days after start_time"))
    if downtime.start_time < calendars.minute_floor(now):
        # Time already counted keeps the plan it was counted with.
        violations.append(FieldViolation("start_time", "planned downtime is booked ahead"))
    if len(downtime.reason) > REASON_MAX:
        violations.append(FieldViolation("reason", f"at most {REASON_MAX} characters"))
    if violations:
        raise InvalidArgument("the planned downtime is not valid", violations=tuple(violations))
    with uow:
        _plant_as_field(uow, downtime.tenant_id, downtime.plant_id)
        if downtime.station_id:
            station = uow.stations.get(
                tenant_id=downtime.tenant_id, resource_id=downtime.station_id
            )
            if station is None or station.plant_id != downtime.plant_id:
                raise InvalidArgument(
                    f"station {downtime.station_id!r} not found in the plant",
                    violations=(
                        FieldViolation("station_id", "no station of the plant with this id"),
                    ),
                )
        stored = PlannedDowntime(
            id=new_id(),
            tenant_id=downtime.tenant_id,
            plant_id=downtime.plant_id,
            station_id=downtime.station_id,
            kind=downtime.kind,
            start_time=downtime.start_time,
            end_time=downtime.end_time,
            reason=downtime.reason,
            create_time=now,
        )
        uow.planned_downtimes.add(stored)
        _downtime_changed(uow, stored, booked=True, now=now)
        return stored


def list_planned_downtimes(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    plant_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[PlannedDowntime], str]:
    with uow:
        return uow.planned_downtimes.page(
            tenant_id=tenant_id,
            plant_id=plant_id,
            page_size=page_size(requested_page_size),
            page_token=page_token,
        )


def delete_planned_downtime(uow: ExecutionUnitOfWork, *, tenant_id: str, downtime_id: str) -> None:
    with uow:
        downtime = uow.planned_downtimes.get(tenant_id=tenant_id, downtime_id=downtime_id)
        if downtime is None:
            raise not_found("planned downtime", downtime_id)
        if downtime.start_time <= utcnow():
            raise FailedPrecondition("planned downtime that has started is part of the record")
        uow.planned_downtimes.remove(downtime)
        _downtime_changed(uow, downtime, booked=False, now=utcnow())


def _downtime_changed(
    uow: ExecutionUnitOfWork, downtime: PlannedDowntime, *, booked: bool, now: datetime
) -> None:
    where = "every station"
    if downtime.station_id:
        station = uow.stations.get(tenant_id=downtime.tenant_id, resource_id=downtime.station_id)
        where = f"station {station.name}" if station else downtime.station_id
    trigger = triggers.planned_downtime_trigger(
        downtime.plant_id, where, downtime.start_time, downtime.end_time, booked=booked, now=now
    )
    triggers.requested(
        uow, tenant_id=downtime.tenant_id, plant_id=downtime.plant_id, trigger=trigger
    )


def _plant_as_field(uow: ExecutionUnitOfWork, tenant_id: str, plant_id: str) -> Plant:
    plant = uow.plants.get(tenant_id=tenant_id, resource_id=plant_id)
    if plant is None:
        raise InvalidArgument(
            f"plant {plant_id!r} not found",
            violations=(FieldViolation("plant_id", "no plant with this id"),),
        )
    return plant


# -- products ------------------------------------------------------------------------


def offered_capabilities(stations: Iterable[Station]) -> set[str]:
    return {capability for station in stations for capability in station.capabilities}


def all_stations(uow: ExecutionUnitOfWork, *, tenant_id: str, **equal: str) -> list[Station]:
    return every_page(
        lambda token: uow.stations.list(
            tenant_id=tenant_id, page_size=MAX_PAGE_SIZE, page_token=token, **equal
        )
    )


def create_product(uow: ExecutionUnitOfWork, *, product: Product) -> Product:
    with uow:
        offered = offered_capabilities(all_stations(uow, tenant_id=product.tenant_id))
        checked = checked_product(product, offered=offered)
        if uow.products.part_number_taken(
            tenant_id=product.tenant_id, part_number=checked.part_number
        ):
            raise AlreadyExists(
                f"part number {checked.part_number!r} exists already",
                violations=(FieldViolation("part_number", "already used by another product"),),
            )
        stored = Product(
            id=new_id(),
            tenant_id=checked.tenant_id,
            part_number=checked.part_number.strip(),
            name=checked.name,
            unit=checked.unit,
            routing=checked.routing,
            bom=checked.bom,
            create_time=utcnow(),
        )
        uow.products.add(stored)
        return stored


def get_product(
    uow: ExecutionUnitOfWork, *, tenant_id: str, product_id: str
) -> tuple[Product, float | None]:
    """The product and its first-pass yield over its work orders."""
    with uow:
        product = uow.products.get(tenant_id=tenant_id, product_id=product_id)
        if product is None:
            raise not_found("product", product_id)
        return product, _yields(uow, tenant_id, [product])[product.id]


def list_products(
    uow: ExecutionUnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[tuple[Product, float | None]], str]:
    with uow:
        products, token = uow.products.page(
            tenant_id=tenant_id, page_size=page_size(requested_page_size), page_token=page_token
        )
        yields = _yields(uow, tenant_id, products)
        return [(p, yields[p.id]) for p in products], token


def _yields(
    uow: ExecutionUnitOfWork, tenant_id: str, products: Sequence[Product]
) -> dict[str, float | None]:
    orders = uow.work_orders.of_products(tenant_id=tenant_id, product_ids=[p.id for p in products])
    return {p.id: first_pass_yield(o for o in orders if o.product_id == p.id) for p in products}


# -- state mappings ------------------------------------------------------------------


def set_state_mapping(uow: ExecutionUnitOfWork, *, mapping: StateMapping) -> StateMapping:
    """The gateway checked that the equipment model is the tenant's (products owns it)."""
    checked = checked_mapping(mapping)
    with uow:
        uow.state_mappings.put(checked)
        return checked


def get_state_mapping(
    uow: ExecutionUnitOfWork, *, tenant_id: str, equipment_model_id: str
) -> StateMapping:
    with uow:
        mapping = uow.state_mappings.get(tenant_id=tenant_id, equipment_model_id=equipment_model_id)
        if mapping is None:
            raise not_found("state mapping of equipment model", equipment_model_id)
        return mapping
