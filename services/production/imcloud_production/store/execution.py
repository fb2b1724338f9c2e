"""SQL implementations of the execution ports: calendars, catalog, work orders,
machine tracks, timelines and the time-by-state tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imcloud_core.errors import AlreadyExists, FieldViolation, NotFound
from imcloud_core.store import TenantTable, keyset_page
from imcloud_production.domain.calendar import Calendar, CalendarHistory, ShiftBreak, ShiftPattern
from imcloud_production.domain.catalog import (
    BomLine,
    Comparison,
    CounterKind,
    CountSignal,
    EquipmentState,
    Product,
    RoutingStep,
    StateMapping,
    StateRule,
)
from imcloud_production.domain.execution import (
    Downtime,
    DowntimeReason,
    Placement,
    PlannedDowntime,
    PlannedDowntimeKind,
    QualityRecord,
    Reclassified,
    RunningOperation,
)
from imcloud_production.domain.oee import DEFAULT_CATEGORY, LossCategory
from imcloud_production.domain.ports import MinutesOf
from imcloud_production.domain.tracking import MINUTE_FIELDS, Interval, Track
from imcloud_production.domain.work_orders import (
    Operation,
    OperationState,
    RecipeDelivery,
    WorkOrder,
    WorkOrderState,
)
from imcloud_production.store.tables import (
    calendars,
    downtime_reasons,
    downtimes,
    equipment_placements,
    equipment_tracks,
    planned_downtimes,
    products,
    quality_records,
    running_operations,
    state_intervals,
    state_mappings,
    station_days,
    station_hours,
    station_minutes,
    work_orders,
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, eq=False)
class _Level:
    """One table of time by state: its rows each sum ``period_ms`` of a machine."""

    table: Table
    column: str
    period_ms: int


# The planned minutes summed per UTC day and per hour, coarsest first.
SUMMED_LEVELS = (
    _Level(station_days, "day_ms", DAY_MS),
    _Level(station_hours, "hour_ms", HOUR_MS),
)
MINUTES = _Level(station_minutes, "minute_ms", 60_000)


_ADDING: dict[tuple[str, str], Any] = {}


def _adding(session: Session, level: _Level) -> Any:
    """The upsert that adds a row's amounts to those stored, built once per database."""
    key = (session.get_bind().dialect.name, level.column)
    if key not in _ADDING:
        statement = _upsert(session, level.table)
        _ADDING[key] = statement.on_conflict_do_update(
            index_elements=["station_id", level.column, "equipment_id"],
            set_={f: level.table.c[f] + statement.excluded[f] for f in MINUTE_FIELDS},
        )
    return _ADDING[key]


def _cover(start: int, end: int, levels: Sequence[_Level]) -> list[tuple[_Level, int, int]]:
    """[start, end) as whole periods of the coarsest level that fits, and the
    rest at the next levels down; the last level takes what is left."""
    if end <= start or not levels:
        return []
    level, finer = levels[0], levels[1:]
    if not finer:
        return [(level, start, end)]
    first = -(-start // level.period_ms) * level.period_ms
    last = end // level.period_ms * level.period_ms
    if first >= last:
        return _cover(start, end, finer)
    return [*_cover(start, first, finer), (level, first, last), *_cover(last, end, finer)]


def _upsert(session: Session, table: Table) -> Any:
    """An INSERT that can say what to do on conflict, on either database."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


def _parse_clock(text: str) -> time:
    return time.fromisoformat(text)


class SqlCalendars:
    def __init__(self, session: Session) -> None:
        self._session = session

    def history(self, *, tenant_id: str, plant_id: str, time_zone: str) -> CalendarHistory:
        c = calendars.c
        rows = self._session.execute(
            select(calendars)
            .where(c.tenant_id == tenant_id, c.plant_id == plant_id)
            .order_by(c.effective_time)
        ).all()
        return CalendarHistory(
            tuple((row.effective_time, self._calendar(row, time_zone)) for row in rows)
        )

    def latest_times(self, *, tenant_id: str, plant_id: str) -> tuple[datetime, datetime] | None:
        c = calendars.c
        row = self._session.execute(
            select(c.effective_time, c.update_time)
            .where(c.tenant_id == tenant_id, c.plant_id == plant_id)
            .order_by(c.effective_time.desc())
            .limit(1)
        ).first()
        return (row.effective_time, row.update_time) if row else None

    def put(
        self, calendar: Calendar, *, tenant_id: str, effective: datetime, update_time: datetime
    ) -> None:
        c = calendars.c
        self._session.execute(
            delete(calendars).where(
                c.tenant_id == tenant_id,
                c.plant_id == calendar.plant_id,
                c.effective_time >= effective,
            )
        )
        self._session.execute(
            calendars.insert().values(
                plant_id=calendar.plant_id,
                effective_time=effective,
                tenant_id=tenant_id,
                shifts=[
                    {
                        "name": s.name,
                        "days_of_week": list(s.days_of_week),
                        "start": _clock(s.start),
                        "end": _clock(s.end),
                        "breaks": [
                            {"start": _clock(b.start), "end": _clock(b.end)} for b in s.breaks
                        ],
                    }
                    for s in calendar.shifts
                ],
                holidays=[d.isoformat() for d in calendar.holidays],
                small_stop_threshold_s=calendar.small_stop_threshold_s,
                startup_window_s=calendar.startup_window_s,
                update_time=update_time,
            )
        )

    @staticmethod
    def _calendar(row: Row[Any], time_zone: str) -> Calendar:
        return Calendar(
            plant_id=row.plant_id,
            time_zone=time_zone,
            shifts=tuple(
                ShiftPattern(
                    name=s["name"],
                    days_of_week=tuple(s["days_of_week"]),
                    start=_parse_clock(s["start"]),
                    end=_parse_clock(s["end"]),
                    breaks=tuple(
                        ShiftBreak(_parse_clock(b["start"]), _parse_clock(b["end"]))
                        for b in s["breaks"]
                    ),
                )
                for s in row.shifts
            ),
            holidays=tuple(date.fromisoformat(d) for d in row.holidays),
            small_stop_threshold_s=row.small_stop_threshold_s,
            startup_window_s=row.startup_window_s,
        )


class SqlPlannedDowntimes:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._table = TenantTable(planned_downtimes)

    def add(self, downtime: PlannedDowntime) -> None:
        self._table.insert(
            self._session, {**dataclasses.asdict(downtime), "kind": downtime.kind.value}
        )

    def get(self, *, tenant_id: str, downtime_id: str) -> PlannedDowntime | None:
        row = self._table.get(self._session, tenant_id, downtime_id)
        return self._downtime(row) if row else None

    def remove(self, downtime: PlannedDowntime) -> None:
        self._table.delete(self._session, downtime.tenant_id, downtime.id)

    def page(
        self, *, tenant_id: str, plant_id: str, page_size: int, page_token: str
    ) -> tuple[list[PlannedDowntime], str]:
        rows, token = keyset_page(
            self._session,
            self._table.select(tenant_id, planned_downtimes.c.plant_id == plant_id),
            created=planned_downtimes.c.start_time,
            key=planned_downtimes.c.id,
            page_size=page_size,
            page_token=page_token,
        )
        return [self._downtime(r) for r in rows], token

    def overlapping(
        self, *, tenant_id: str, plant_id: str, start: datetime, end: datetime
    ) -> list[PlannedDowntime]:
        c = planned_downtimes.c
        rows = self._session.execute(
            self._table.select(
                tenant_id, c.plant_id == plant_id, c.start_time < end, c.end_time > start
            )
        ).all()
        return [self._downtime(r) for r in rows]

    @staticmethod
    def _downtime(row: Row[Any]) -> PlannedDowntime:
        values = row._asdict()
        return PlannedDowntime(**{**values, "kind": PlannedDowntimeKind(values["kind"])})


def _routing(values: list[dict[str, Any]]) -> tuple[RoutingStep, ...]:
    return tuple(RoutingStep(**v) for v in values)


class SqlProducts:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._table = TenantTable(products)

    def add(self, product: Product) -> None:
        values = dataclasses.asdict(product)
        self._table.insert(self._session, values)

    def get(self, *, tenant_id: str, product_id: str) -> Product | None:
        row = self._table.get(self._session, tenant_id, product_id)
        return self._product(row) if row else None

    def part_number_taken(self, *, tenant_id: str, part_number: str) -> bool:
        return self._table.exists(self._session, tenant_id, products.c.part_number == part_number)

    def page(self, *, tenant_id: str, page_size: int, page_token: str) -> tuple[list[Product], str]:
        rows, token = self._table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token
        )
        return [self._product(r) for r in rows], token

    @staticmethod
    def _product(row: Row[Any]) -> Product:
        values = row._asdict()
        return Product(
            **{
                **values,
                "routing": _routing(values["routing"]),
                "bom": tuple(BomLine(**b) for b in values["bom"]),
            }
        )


class SqlStateMappings:
    def __init__(self, session: Session) -> None:
        self._session = session

    def put(self, mapping: StateMapping) -> None:
        c = state_mappings.c
        owner = self._session.execute(
            select(c.tenant_id).where(c.equipment_model_id == mapping.equipment_model_id)
        ).scalar()
        if owner is not None and owner != mapping.tenant_id:
            raise NotFound(f"equipment model {mapping.equipment_model_id!r} not found")
        spec = {
            "state_signal": mapping.state_signal,
            "rules": [
                {"comparison": r.comparison.value, "value": r.value, "state": r.state.value}
                for r in mapping.rules
            ],
            "default_state": mapping.default_state.value,
            "good": _count_spec(mapping.good),
            "scrap": _count_spec(mapping.scrap),
            "hold_s": mapping.hold_s,
        }
        values = {"tenant_id": mapping.tenant_id, "spec": spec, "update_time": mapping.update_time}
        statement = _upsert(self._session, state_mappings).values(
            equipment_model_id=mapping.equipment_model_id, **values
        )
        self._session.execute(
            statement.on_conflict_do_update(index_elements=["equipment_model_id"], set_=values)
        )

    def get(self, *, tenant_id: str, equipment_model_id: str) -> StateMapping | None:
        c = state_mappings.c
        row = self._session.execute(
            select(state_mappings).where(
                c.tenant_id == tenant_id, c.equipment_model_id == equipment_model_id
            )
        ).first()
        if row is None:
            return None
        spec = row.spec
        return StateMapping(
            tenant_id=tenant_id,
            equipment_model_id=equipment_model_id,
            state_signal=spec["state_signal"],
            rules=tuple(
                StateRule(
                    Comparison(r["comparison"]), float(r["value"]), EquipmentState(r["state"])
                )
                for r in spec["rules"]
            ),
            default_state=EquipmentState(spec["default_state"]),
            good=_count_signal(spec["good"]),
            scrap=_count_signal(spec["scrap"]),
            hold_s=int(spec["hold_s"]),
            update_time=row.update_time,
        )


def _count_spec(signal: CountSignal | None) -> dict[str, str] | None:
    return {"signal": signal.signal, "kind": signal.kind.value} if signal else None


def _count_signal(spec: dict[str, str] | None) -> CountSignal | None:
    return CountSignal(spec["signal"], CounterKind(spec["kind"])) if spec else None


# A placement's columns (the applied version is read on its own).
_PLACEMENT = tuple(equipment_placements.c[f.name] for f in dataclasses.fields(Placement))


class SqlPlacements:
    def __init__(self, session: Session) -> None:
        self._session = session

    def place(self, placement: Placement) -> None:
        c = equipment_placements.c
        values = dataclasses.asdict(placement)
        statement = _upsert(self._session, equipment_placements).values(**values)
        self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["equipment_id"],
                set_={k: v for k, v in values.items() if k != "equipment_id"},
                where=c.update_time <= placement.update_time,
            )
        )

    def remove(self, *, equipment_id: str) -> None:
        self._session.execute(
            delete(equipment_placements).where(equipment_placements.c.equipment_id == equipment_id)
        )

    def of(self, equipment_ids: Collection[str]) -> dict[str, Placement]:
        if not equipment_ids:
            return {}
        rows = self._session.execute(
            select(*_PLACEMENT).where(equipment_placements.c.equipment_id.in_(list(equipment_ids)))
        ).all()
        return {r.equipment_id: Placement(**r._asdict()) for r in rows}

    def at_station(self, *, tenant_id: str, station_id: str) -> list[Placement]:
        c = equipment_placements.c
        rows = self._session.execute(
            select(*_PLACEMENT).where(c.tenant_id == tenant_id, c.station_id == station_id)
        ).all()
        return [Placement(**r._asdict()) for r in rows]

    def applied_versions(self, *, tenant_id: str, equipment_ids: Collection[str]) -> dict[str, int]:
        if not equipment_ids:
            return {}
        c = equipment_placements.c
        # An UPDATE, not SELECT ... FOR UPDATE: SQLite has no row locks, and only a
        # write makes it hold the database until the transaction ends.
        rows = self._session.execute(
            update(equipment_placements)
            .where(c.tenant_id == tenant_id, c.equipment_id.in_(list(equipment_ids)))
            .values(applied_version=c.applied_version)
            .returning(c.equipment_id, c.applied_version)
        ).all()
        return {r.equipment_id: r.applied_version for r in rows}

    def record_applied(
        self, *, tenant_id: str, equipment_id: str, applied_version: int
    ) -> Placement | None:
        c = equipment_placements.c
        row = self._session.execute(
            update(equipment_placements)
            .where(c.tenant_id == tenant_id, c.equipment_id == equipment_id)
            .values(
                applied_version=case(
                    (c.applied_version < applied_version, applied_version),
                    else_=c.applied_version,
                )
            )
            .returning(*_PLACEMENT)
        ).first()
        return Placement(**row._asdict()) if row else None


def _moment_text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _operation_values(operation: Operation) -> dict[str, Any]:
    values = dataclasses.asdict(operation)
    values["state"] = operation.state.value
    for field in ("start_time", "end_time"):
        values[field] = _moment_text(values[field])
    values["recipe_deliveries"] = [
        {**dataclasses.asdict(d), "applied_time": _moment_text(d.applied_time)}
        for d in operation.recipe_deliveries
    ]
    return values


def _operation(values: dict[str, Any]) -> Operation:
    # Operations stored before recipes existed have no recipe keys: the defaults.
    return Operation(
        **{
            **values,
            "state": OperationState(values["state"]),
            "start_time": _moment(values["start_time"]),
            "end_time": _moment(values["end_time"]),
            "recipe_deliveries": tuple(
                RecipeDelivery(**{**d, "applied_time": _moment(d["applied_time"])})
                for d in values.get("recipe_deliveries", ())
            ),
        }
    )


class SqlWorkOrders:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._table = TenantTable(work_orders)

    def add(self, order: WorkOrder) -> None:
        try:
            with self._session.begin_nested():
                self._table.insert(self._session, self._values(order))
        except IntegrityError as error:
            # Only a customer order's second work order breaks a constraint here.
            raise AlreadyExists(
                f"customer order {order.customer_order_id!r} has a work order already",
                violations=(FieldViolation("customer_order_id", "has a work order already"),),
            ) from error

    def of_customer_order(
        self, *, tenant_id: str, customer_order_id: str, for_update: bool = False
    ) -> WorkOrder | None:
        statement = self._table.select(
            tenant_id, work_orders.c.customer_order_id == customer_order_id
        )
        if for_update:
            statement = statement.with_for_update()
        row = self._session.execute(statement).first()
        return self._order(row) if row else None

    def get(
        self, *, tenant_id: str, work_order_id: str, for_update: bool = False
    ) -> WorkOrder | None:
        statement = self._table.select(tenant_id, work_orders.c.id == work_order_id)
        if for_update:
            statement = statement.with_for_update()
        row = self._session.execute(statement).first()
        return self._order(row) if row else None

    def update(self, order: WorkOrder) -> None:
        values = self._values(order)
        for fixed in ("id", "tenant_id", "create_time"):
            values.pop(fixed)
        self._table.update(self._session, order.tenant_id, order.id, values)

    def of_products(self, *, tenant_id: str, product_ids: Collection[str]) -> list[WorkOrder]:
        if not product_ids:
            return []
        rows = self._session.execute(
            self._table.select(tenant_id, work_orders.c.product_id.in_(list(product_ids)))
        ).all()
        return [self._order(r) for r in rows]

    def page(
        self,
        *,
        tenant_id: str,
        page_size: int,
        page_token: str,
        states: Collection[WorkOrderState],
        plant_id: str,
    ) -> tuple[list[WorkOrder], str]:
        conditions: list[ColumnElement[bool]] = []
        if states:
            conditions.append(work_orders.c.state.in_([s.value for s in states]))
        if plant_id:
            conditions.append(work_orders.c.plant_id == plant_id)
        rows, token = self._table.page(
            self._session, tenant_id, *conditions, page_size=page_size, page_token=page_token
        )
        return [self._order(r) for r in rows], token

    @staticmethod
    def _values(order: WorkOrder) -> dict[str, Any]:
        values = {f.name: getattr(order, f.name) for f in dataclasses.fields(order)}
        values["state"] = order.state.value
        values["operations"] = [_operation_values(o) for o in order.operations]
        values["customer_order_id"] = order.customer_order_id or None
        values["bom"] = [dataclasses.asdict(line) for line in order.bom]
        values["routing"] = [dataclasses.asdict(step) for step in order.routing]
        return values

    @staticmethod
    def _order(row: Row[Any]) -> WorkOrder:
        values = row._asdict()
        return WorkOrder(
            **{
                **values,
                "state": WorkOrderState(values["state"]),
                "operations": tuple(_operation(o) for o in values["operations"]),
                "customer_order_id": values["customer_order_id"] or "",
                "bom": tuple(BomLine(**line) for line in values["bom"]),
                "routing": _routing(values["routing"]),
            }
        )


class SqlRunningOperations:
    def __init__(self, session: Session) -> None:
        self._session = session

    def at(self, station_ids: Collection[str]) -> dict[str, RunningOperation]:
        if not station_ids:
            return {}
        rows = self._session.execute(
            select(running_operations).where(running_operations.c.station_id.in_(list(station_ids)))
        ).all()
        return {r.station_id: RunningOperation(**r._asdict()) for r in rows}

    def start(self, running: RunningOperation) -> None:
        self._session.execute(running_operations.insert().values(**dataclasses.asdict(running)))

    def stop(self, *, station_id: str) -> None:
        self._session.execute(
            delete(running_operations).where(running_operations.c.station_id == station_id)
        )


class SqlQualityRecords:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._table = TenantTable(quality_records)

    def add(self, record: QualityRecord) -> None:
        self._table.insert(self._session, dataclasses.asdict(record))

    def page(
        self,
        *,
        tenant_id: str,
        page_size: int,
        page_token: str,
        work_order_id: str,
        station_id: str,
    ) -> tuple[list[QualityRecord], str]:
        c = quality_records.c
        conditions = []
        if work_order_id:
            conditions.append(c.work_order_id == work_order_id)
        if station_id:
            conditions.append(c.station_id == station_id)
        rows, token = self._table.page(
            self._session,
            tenant_id,
            *conditions,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        return [QualityRecord(**r._asdict()) for r in rows], token


class SqlTracks:
    def __init__(self, session: Session) -> None:
        self._session = session

    def of(self, equipment_ids: Collection[str]) -> dict[str, Track]:
        if not equipment_ids:
            return {}
        rows = self._session.execute(
            select(equipment_tracks)
            .where(equipment_tracks.c.equipment_id.in_(list(equipment_ids)))
            .with_for_update()
        ).all()
        return {r.equipment_id: self._track(r) for r in rows}

    def at_stations(self, station_ids: Collection[str]) -> list[Track]:
        if not station_ids:
            return []
        rows = self._session.execute(
            select(equipment_tracks).where(equipment_tracks.c.station_id.in_(list(station_ids)))
        ).all()
        return [self._track(r) for r in rows]

    def tracked_stations(self) -> list[tuple[str, str]]:
        c = equipment_tracks.c
        rows = self._session.execute(select(c.tenant_id, c.station_id).distinct()).all()
        return [(r.tenant_id, r.station_id) for r in rows]

    def save(self, tracks: Sequence[Track]) -> None:
        if not tracks:
            return
        rows = []
        for track in tracks:
            values = dataclasses.asdict(track)
            values["state"] = track.state.value if track.state else None
            values["resumes_as"] = track.resumes_as.value if track.resumes_as else None
            rows.append(values)
        statement = _upsert(self._session, equipment_tracks)
        self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["equipment_id"],
                set_={
                    c.name: statement.excluded[c.name]
                    for c in equipment_tracks.c
                    if c.name != "equipment_id"
                },
            ),
            rows,
        )

    @staticmethod
    def _track(row: Row[Any]) -> Track:
        values = row._asdict()
        values["state"] = EquipmentState(values["state"]) if values["state"] else None
        values["resumes_as"] = (
            EquipmentState(values["resumes_as"]) if values["resumes_as"] else None
        )
        return Track(**values)


class SqlTimeline:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add_intervals(self, entries: Sequence[tuple[Track, Sequence[Interval]]]) -> None:
        rows = [
            {
                "tenant_id": track.tenant_id,
                "station_id": track.station_id,
                "equipment_id": track.equipment_id,
                "state": i.state.value,
                "start_ms": i.start_ms,
                "end_ms": i.end_ms,
            }
            for track, intervals in entries
            for i in intervals
        ]
        if rows:
            self._session.execute(state_intervals.insert(), rows)

    def intervals(
        self, *, tenant_id: str, station_id: str, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[str, Interval]]:
        c = state_intervals.c
        rows = self._session.execute(
            select(c.equipment_id, c.state, c.start_ms, c.end_ms)
            .where(
                c.tenant_id == tenant_id,
                c.station_id == station_id,
                c.start_ms < end_ms,
                c.end_ms > start_ms,
            )
            .order_by(c.start_ms, c.id)
            .limit(limit)
        ).all()
        return [
            (r.equipment_id, Interval(EquipmentState(r.state), r.start_ms, r.end_ms)) for r in rows
        ]

    def add_minutes(self, entries: Sequence[MinutesOf]) -> None:
        """Adds every entry's minutes, and their planned part to the hours and days,
        in one statement per table: rows of the same key are summed first."""
        rows: dict[_Level, dict[tuple[str, str, int], dict[str, Any]]] = {
            level: {} for level in (MINUTES, *SUMMED_LEVELS)
        }
        for track, minutes, planned in entries:
            for minute, amounts in minutes.items():
                is_planned = planned(minute)
                for level in (MINUTES, *SUMMED_LEVELS):
                    if level is not MINUTES and not is_planned:
                        continue
                    start = minute - minute % level.period_ms
                    key = (track.station_id, track.equipment_id, start)
                    row = rows[level].get(key)
                    if row is None:
                        row = {
                            "station_id": track.station_id,
                            "equipment_id": track.equipment_id,
                            "tenant_id": track.tenant_id,
                            level.column: start,
                            **dict.fromkeys(MINUTE_FIELDS, 0.0),
                        }
                        if level is MINUTES:
                            row["planned"] = is_planned
                        rows[level][key] = row
                    for field, value in amounts.items():
                        row[field] += value
        for level, keyed in rows.items():
            if keyed:
                self._session.execute(_adding(self._session, level), list(keyed.values()))

    def totals(
        self, *, station_ids: Collection[str], start_ms: int, end_ms: int
    ) -> dict[str, dict[str, float]]:
        """Whole days from the day table, whole hours around them from the hour
        table, and the minutes at the edges from the minute table."""
        if not station_ids or end_ms <= start_ms:
            return {}
        totals: dict[str, dict[str, float]] = {}
        ids = list(station_ids)
        by_table: dict[str, list[tuple[int, int]]] = {}
        for level, start, end in _cover(start_ms, end_ms, (*SUMMED_LEVELS, MINUTES)):
            by_table.setdefault(level.column, []).append((start, end))
        for level in (*SUMMED_LEVELS, MINUTES):
            spans = by_table.get(level.column)
            if not spans:
                continue
            period = level.table.c[level.column]
            conditions = [
                level.table.c.station_id.in_(ids),
                or_(*(and_(period >= start, period < end) for start, end in spans)),
            ]
            if level is MINUTES:
                conditions.append(station_minutes.c.planned)
            self._sum_into(totals, level.table, *conditions)
        return totals

    def recount(
        self, *, station_id: str, start_ms: int, end_ms: int, planned: Callable[[int], bool]
    ) -> int:
        c = station_minutes.c
        rows = self._session.execute(
            select(c.minute_ms, c.equipment_id, c.planned).where(
                c.station_id == station_id, c.minute_ms >= start_ms, c.minute_ms < end_ms
            )
        ).all()
        changed = [
            {"m": r.minute_ms, "e": r.equipment_id, "p": planned(r.minute_ms)}
            for r in rows
            if planned(r.minute_ms) != bool(r.planned)
        ]
        if not changed:
            return 0
        self._session.execute(
            update(station_minutes)
            .where(
                c.station_id == station_id,
                c.minute_ms == bindparam("m"),
                c.equipment_id == bindparam("e"),
            )
            .values(planned=bindparam("p")),
            changed,
        )
        for level in SUMMED_LEVELS:
            self._sum_again(
                level,
                station_id,
                min(row["m"] for row in changed) // level.period_ms * level.period_ms,
                max(row["m"] for row in changed) // level.period_ms * level.period_ms
                + level.period_ms,
            )
        return len(changed)

    def _sum_again(self, level: _Level, station_id: str, first: int, last: int) -> None:
        """Sums the station's planned minutes of the periods in [first, last) anew."""
        table, column = level.table, level.table.c[level.column]
        self._session.execute(
            delete(table).where(table.c.station_id == station_id, column >= first, column < last)
        )
        c = station_minutes.c
        period = (c.minute_ms - c.minute_ms % level.period_ms).label(level.column)
        summed = (
            select(
                c.station_id,
                c.equipment_id,
                period,
                func.min(c.tenant_id),
                *(func.sum(c[f]) for f in MINUTE_FIELDS),
            )
            .where(c.station_id == station_id, c.planned, c.minute_ms >= first, c.minute_ms < last)
            .group_by(c.station_id, c.equipment_id, period)
        )
        self._session.execute(
            table.insert().from_select(
                ["station_id", "equipment_id", level.column, "tenant_id", *MINUTE_FIELDS], summed
            )
        )

    def _sum_into(
        self, totals: dict[str, dict[str, float]], table: Table, *conditions: Any
    ) -> None:
        rows = self._session.execute(
            select(table.c.station_id, *(func.sum(table.c[f]).label(f) for f in MINUTE_FIELDS))
            .where(*conditions)
            .group_by(table.c.station_id)
        ).all()
        for row in rows:
            station = totals.setdefault(row.station_id, dict.fromkeys(MINUTE_FIELDS, 0.0))
            for field in MINUTE_FIELDS:
                station[field] += float(getattr(row, field) or 0.0)


class SqlDowntimes:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._table = TenantTable(downtimes)

    def open(self, downtime: Downtime) -> None:
        statement = _upsert(self._session, downtimes).values(**self._values(downtime))
        self._session.execute(
            statement.on_conflict_do_nothing(index_elements=["equipment_id", "start_ms"])
        )

    def close(self, *, equipment_id: str, start_ms: int, end_ms: int) -> Downtime | None:
        c = downtimes.c
        self._session.execute(
            update(downtimes)
            .where(c.equipment_id == equipment_id, c.start_ms == start_ms)
            .values(end_ms=end_ms)
        )
        row = self._session.execute(
            select(downtimes).where(c.equipment_id == equipment_id, c.start_ms == start_ms)
        ).first()
        return self._downtime(row) if row else None

    def get(self, *, tenant_id: str, downtime_id: str) -> Downtime | None:
        row = self._table.get(self._session, tenant_id, downtime_id)
        return self._downtime(row) if row else None

    def update(self, downtime: Downtime) -> None:
        self._table.update(
            self._session,
            downtime.tenant_id,
            downtime.id,
            {
                "reason_code": downtime.reason_code,
                "category": downtime.category.value,
                "reason_actor": downtime.reason_actor,
            },
        )

    def page(
        self,
        *,
        tenant_id: str,
        scope: tuple[str, str],
        start_ms: int,
        end_ms: int,
        page_size: int,
        page_token: str,
    ) -> tuple[list[Downtime], str]:
        c = downtimes.c
        field, scope_id = scope
        rows, token = keyset_page(
            self._session,
            self._table.select(
                tenant_id,
                c[field] == scope_id,
                c.start_ms < end_ms,
                or_(c.end_ms.is_(None), c.end_ms > start_ms),
            ),
            created=c.start_ms,
            key=c.id,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        return [self._downtime(r) for r in rows], token

    def reclassified(
        self, *, station_ids: Collection[str], start_ms: int, end_ms: int
    ) -> list[Reclassified]:
        if not station_ids:
            return []
        c = downtimes.c
        by_default = [
            and_(c.state == state, c.category == category.value)
            for state, category in DEFAULT_CATEGORY.items()
        ]
        rows = self._session.execute(
            select(c.station_id, c.start_ms, c.end_ms, c.state, c.category).where(
                c.station_id.in_(list(station_ids)),
                c.reason_code != "",
                c.start_ms < end_ms,
                or_(c.end_ms.is_(None), c.end_ms > start_ms),
                ~or_(*by_default),
            )
        ).all()
        categories = {category.value: category for category in LossCategory}
        return [
            Reclassified(station, start, end, DEFAULT_CATEGORY[state], categories[category])
            for station, start, end, state, category in rows
        ]

    @staticmethod
    def _values(downtime: Downtime) -> dict[str, Any]:
        values = dataclasses.asdict(downtime)
        values["state"] = downtime.state.value
        values["category"] = downtime.category.value
        return values

    @staticmethod
    def _downtime(row: Row[Any]) -> Downtime:
        values = row._asdict()
        values["state"] = EquipmentState(values["state"])
        values["category"] = LossCategory(values["category"])
        return Downtime(**values)


class SqlDowntimeReasons:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, reason: DowntimeReason) -> None:
        self._session.execute(
            downtime_reasons.insert().values(
                **{**dataclasses.asdict(reason), "category": reason.category.value}
            )
        )

    def get(self, *, tenant_id: str, code: str) -> DowntimeReason | None:
        c = downtime_reasons.c
        row = self._session.execute(
            select(downtime_reasons).where(c.tenant_id == tenant_id, c.code == code)
        ).first()
        return self._reason(row) if row else None

    def all(self, *, tenant_id: str) -> list[DowntimeReason]:
        c = downtime_reasons.c
        rows = self._session.execute(
            select(downtime_reasons).where(c.tenant_id == tenant_id).order_by(c.code)
        ).all()
        return [self._reason(r) for r in rows]

    @staticmethod
    def _reason(row: Row[Any]) -> DowntimeReason:
        values = row._asdict()
        return DowntimeReason(**{**values, "category": LossCategory(values["category"])})
