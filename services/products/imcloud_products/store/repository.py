"""SQL implementations of the domain's ports; every query filters by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from types import TracebackType
from typing import Any, Self

from sqlalchemy import ColumnElement, Connection, Row, update
from sqlalchemy.orm import Session

from imcloud_core.outbox import Outbox
from imcloud_core.store import TenantTable
from imcloud_core.unit_of_work import EventTranslator, SqlUnitOfWork, StagedEvents
from imcloud_products.domain.desired import DesiredState
from imcloud_products.domain.model import (
    Equipment,
    EquipmentModel,
    SignalDefinition,
    SignalType,
)
from imcloud_products.store.monitoring import (
    ModelSignals,
    SqlEpisodeRepository,
    SqlMonitorRepository,
)
from imcloud_products.store.tables import desired_states, equipment, equipment_models
from imcloud_products.store.telemetry import SqlTelemetryStore, TelemetryWrites


def _equipment_model(row: Row[Any]) -> EquipmentModel:
    values = row._asdict()
    values["signals"] = tuple(
        SignalDefinition(**{**s, "type": SignalType(s["type"])}) for s in values["signals"]
    )
    return EquipmentModel(**values)


def _equipment_model_values(model: EquipmentModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "tenant_id": model.tenant_id,
        "name": model.name,
        "manufacturer": model.manufacturer,
        "signals": [asdict(s) for s in model.signals],
        "create_time": model.create_time,
        "update_time": model.update_time,
    }


def _equipment(row: Row[Any]) -> Equipment:
    return Equipment(**row._asdict())


class SqlEquipmentModelRepository:
    table = TenantTable(equipment_models)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, model: EquipmentModel) -> None:
        self.table.insert(self._session, _equipment_model_values(model))

    def get(self, *, tenant_id: str, model_id: str) -> EquipmentModel | None:
        row = self.table.get(self._session, tenant_id, model_id)
        return _equipment_model(row) if row else None

    def name_taken(self, *, tenant_id: str, name: str, other_than: str) -> bool:
        return self.table.exists(
            self._session,
            tenant_id,
            equipment_models.c.name == name,
            equipment_models.c.id != other_than,
        )

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[EquipmentModel], str]:
        rows, token = self.table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token
        )
        return [_equipment_model(r) for r in rows], token

    def save(self, model: EquipmentModel) -> None:
        self.table.update(self._session, model.tenant_id, model.id, _equipment_model_values(model))

    def remove(self, model: EquipmentModel) -> None:
        self.table.delete(self._session, model.tenant_id, model.id)


class SqlEquipmentRepository:
    table = TenantTable(equipment)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, machine: Equipment) -> None:
        self.table.insert(self._session, machine.__dict__)

    def get(self, *, tenant_id: str, equipment_id: str) -> Equipment | None:
        row = self.table.get(self._session, tenant_id, equipment_id)
        return _equipment(row) if row else None

    def get_many(self, *, tenant_id: str, equipment_ids: Sequence[str]) -> dict[str, Equipment]:
        rows = self.table.get_many(self._session, tenant_id, equipment_ids)
        return {row.id: _equipment(row) for row in rows}

    def serial_taken(
        self, *, tenant_id: str, model_id: str, serial_number: str, other_than: str
    ) -> bool:
        return self.table.exists(
            self._session,
            tenant_id,
            equipment.c.equipment_model_id == model_id,
            equipment.c.serial_number == serial_number,
            equipment.c.id != other_than,
        )

    def any_of_model(self, *, tenant_id: str, model_id: str) -> bool:
        return self.table.exists(
            self._session, tenant_id, equipment.c.equipment_model_id == model_id
        )

    def list(
        self,
        *,
        tenant_id: str,
        model_id: str,
        station_id: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[Equipment], str]:
        conditions: list[ColumnElement[bool]] = []
        if model_id:
            conditions.append(equipment.c.equipment_model_id == model_id)
        if station_id:
            conditions.append(equipment.c.station_id == station_id)
        rows, token = self.table.page(
            self._session, tenant_id, *conditions, page_size=page_size, page_token=page_token
        )
        return [_equipment(r) for r in rows], token

    def save(self, machine: Equipment) -> None:
        self.table.update(self._session, machine.tenant_id, machine.id, machine.__dict__)

    def remove(self, machine: Equipment) -> None:
        self.table.delete(self._session, machine.tenant_id, machine.id)


class SqlDesiredStateRepository:
    table = TenantTable(desired_states)

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(
        self, *, tenant_id: str, equipment_id: str, for_update: bool = False
    ) -> DesiredState | None:
        if for_update:
            # A write to the machine's row, which exists before its desired state
            # does: it locks the row on PostgreSQL, and on SQLite (whose reads take
            # no lock) the database, until the transaction ends.
            self._session.execute(
                update(equipment)
                .where(equipment.c.tenant_id == tenant_id, equipment.c.id == equipment_id)
                .values(id=equipment.c.id)
            )
        row = self.table.get(self._session, tenant_id, equipment_id)
        return _desired_state(row) if row else None

    def get_many(self, *, tenant_id: str, equipment_ids: Sequence[str]) -> dict[str, DesiredState]:
        rows = self.table.get_many(self._session, tenant_id, equipment_ids)
        return {row.id: _desired_state(row) for row in rows}

    def save(self, state: DesiredState) -> None:
        values = {**state.__dict__, "id": state.equipment_id}
        del values["equipment_id"]
        if not self.table.update(self._session, state.tenant_id, state.equipment_id, values):
            self.table.insert(self._session, values)

    def remove(self, *, tenant_id: str, equipment_id: str) -> None:
        self.table.delete(self._session, tenant_id, equipment_id)


def _desired_state(row: Row[Any]) -> DesiredState:
    values = row._asdict()
    return DesiredState(equipment_id=values.pop("id"), **values)


class ProductsUnitOfWork(SqlUnitOfWork):
    equipment_models: SqlEquipmentModelRepository
    equipment: SqlEquipmentRepository
    desired_states: SqlDesiredStateRepository

    def __enter__(self) -> ProductsUnitOfWork:
        super().__enter__()
        self.equipment_models = SqlEquipmentModelRepository(self.session)
        self.equipment = SqlEquipmentRepository(self.session)
        self.desired_states = SqlDesiredStateRepository(self.session)
        return self


class SqlTelemetryUnitOfWork:
    """The telemetry path's transaction, on a plain connection (the points go in
    by COPY); its events are staged in the outbox as it commits, as in
    SqlUnitOfWork, with the same StagedEvents."""

    telemetry: TelemetryWrites
    monitors: SqlMonitorRepository
    episodes: SqlEpisodeRepository

    def __init__(
        self,
        store: SqlTelemetryStore,
        signals: ModelSignals,
        outbox: Outbox,
        translate: EventTranslator,
    ) -> None:
        self._store = store
        self._signals = signals
        self._staged = StagedEvents(outbox, translate)

    def __enter__(self) -> Self:
        self._transaction: AbstractContextManager[Connection] = self._store.transaction()
        self._connection = self._transaction.__enter__()
        self.telemetry = self._store.writes(self._connection)
        self.monitors = SqlMonitorRepository(self._connection, self._signals)
        self.episodes = SqlEpisodeRepository(self._connection)
        self._staged.forget()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._staged.stage(self._connection)
        self._transaction.__exit__(exc_type, exc, tb)

    def record(self, event: object) -> None:
        """Publishes ``event`` if, and only if, this transaction commits."""
        self._staged.record(event)
