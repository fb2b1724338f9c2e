"""SQL implementations of the domain's ports; every query filters by tenant."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, Generic

from sqlalchemy import ColumnElement, Row, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_core.unit_of_work import SqlUnitOfWork
from imcloud_production.domain.model import (
    Line,
    Plant,
    ResourceT,
    Station,
    name_taken,
    still_has_children,
    unknown_parent,
)
from imcloud_production.store.execution import (
    SqlCalendars,
    SqlDowntimeReasons,
    SqlDowntimes,
    SqlPlacements,
    SqlPlannedDowntimes,
    SqlProducts,
    SqlQualityRecords,
    SqlRunningOperations,
    SqlStateMappings,
    SqlTimeline,
    SqlTracks,
    SqlWorkOrders,
)
from imcloud_production.store.schedules import SqlScheduleRequests, SqlSchedules
from imcloud_production.store.tables import lines, plants, stations

# Set once at creation; an update never writes them.
_FIXED_COLUMNS = ("id", "tenant_id", "create_time")


class SqlRepository(Generic[ResourceT]):
    """Plants, lines or stations in their table; the rules come from the resource
    class (its PARENT scopes names), so one implementation serves all three."""

    def __init__(self, session: Session, table: Table, kind: type[ResourceT]) -> None:
        self._session = session
        self._table = TenantTable(table)
        self._kind: type[ResourceT] = kind

    def add(self, resource: ResourceT) -> None:
        try:
            self._table.insert(self._session, dataclasses.asdict(resource))
        except IntegrityError as error:
            violation = _violation(error)
            if violation is _Violation.UNIQUE:
                raise name_taken(resource) from None
            if violation is _Violation.FOREIGN_KEY and not isinstance(resource, Plant):
                raise unknown_parent(resource) from None
            raise

    def get(self, *, tenant_id: str, resource_id: str) -> ResourceT | None:
        row = self._table.get(self._session, tenant_id, resource_id)
        return self._resource(row) if row else None

    def update(self, resource: ResourceT) -> None:
        values = {
            field: value
            for field, value in dataclasses.asdict(resource).items()
            if field not in _FIXED_COLUMNS
        }
        try:
            self._table.update(self._session, resource.tenant_id, resource.id, values)
        except IntegrityError as error:
            if _violation(error) is _Violation.UNIQUE:
                raise name_taken(resource) from None
            raise

    def remove(self, resource: ResourceT) -> None:
        try:
            self._table.delete(self._session, resource.tenant_id, resource.id)
        except IntegrityError as error:
            if _violation(error) is _Violation.FOREIGN_KEY:
                raise still_has_children(resource) from None
            raise

    def name_taken(self, resource: ResourceT) -> bool:
        siblings = {resource.PARENT: getattr(resource, resource.PARENT)} if resource.PARENT else {}
        return self._table.exists(
            self._session,
            resource.tenant_id,
            self._table.c.name == resource.name,
            self._table.c.id != resource.id,
            *self._equal(siblings),
        )

    def exists(self, *, tenant_id: str, **equal: str) -> bool:
        return self._table.exists(self._session, tenant_id, *self._equal(equal))

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str, **equal: str
    ) -> tuple[list[ResourceT], str]:
        rows, token = self._table.page(
            self._session,
            tenant_id,
            *self._equal(equal),
            page_size=page_size,
            page_token=page_token,
        )
        return [self._resource(row) for row in rows], token

    def _resource(self, row: Row[Any]) -> ResourceT:
        return self._kind(**row._asdict())

    def _equal(self, values: dict[str, str]) -> tuple[ColumnElement[bool], ...]:
        return tuple(self._table.c[field] == value for field, value in values.items())


class _Violation(Enum):
    UNIQUE = "unique"
    FOREIGN_KEY = "foreign key"
    OTHER = "other"


# The domain checks names and children before writing; a constraint still fires
# when a concurrent transaction changed the same rows between check and write.
_VIOLATIONS = {
    # PostgreSQL (psycopg) SQLSTATEs
    "23505": _Violation.UNIQUE,
    "23503": _Violation.FOREIGN_KEY,
    # SQLite extended result codes
    "SQLITE_CONSTRAINT_UNIQUE": _Violation.UNIQUE,
    "SQLITE_CONSTRAINT_FOREIGNKEY": _Violation.FOREIGN_KEY,
}


def _violation(error: IntegrityError) -> _Violation:
    driver_error = error.orig
    code = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "sqlite_errorname", "")
    return _VIOLATIONS.get(str(code), _Violation.OTHER)


class ProductionUnitOfWork(SqlUnitOfWork):
    plants: SqlRepository[Plant]
    lines: SqlRepository[Line]
    stations: SqlRepository[Station]
    calendars: SqlCalendars
    planned_downtimes: SqlPlannedDowntimes
    products: SqlProducts
    state_mappings: SqlStateMappings
    placements: SqlPlacements
    work_orders: SqlWorkOrders
    running_operations: SqlRunningOperations
    quality_records: SqlQualityRecords
    tracks: SqlTracks
    timeline: SqlTimeline
    downtimes: SqlDowntimes
    downtime_reasons: SqlDowntimeReasons
    schedules: SqlSchedules
    schedule_requests: SqlScheduleRequests

    def __enter__(self) -> ProductionUnitOfWork:
        super().__enter__()
        session = self.session
        self.plants = SqlRepository(session, plants, Plant)
        self.lines = SqlRepository(session, lines, Line)
        self.stations = SqlRepository(session, stations, Station)
        self.calendars = SqlCalendars(session)
        self.planned_downtimes = SqlPlannedDowntimes(session)
        self.products = SqlProducts(session)
        self.state_mappings = SqlStateMappings(session)
        self.placements = SqlPlacements(session)
        self.work_orders = SqlWorkOrders(session)
        self.running_operations = SqlRunningOperations(session)
        self.quality_records = SqlQualityRecords(session)
        self.tracks = SqlTracks(session)
        self.timeline = SqlTimeline(session)
        self.downtimes = SqlDowntimes(session)
        self.downtime_reasons = SqlDowntimeReasons(session)
        self.schedules = SqlSchedules(session)
        self.schedule_requests = SqlScheduleRequests(session)
        return self
