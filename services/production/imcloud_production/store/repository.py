"""SQL implementations of the domain's ports; every query filters by tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_core.unit_of_work import SqlUnitOfWork
from imcloud_production.domain.model import Plant
from imcloud_production.store.tables import plants


def _plant(row: Row[Any]) -> Plant:
    return Plant(**row._asdict())


class SqlPlantRepository:
    table = TenantTable(plants)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, plant: Plant) -> None:
        self.table.insert(self._session, plant.__dict__)

    def get(self, *, tenant_id: str, plant_id: str) -> Plant | None:
        row = self.table.get(self._session, tenant_id, plant_id)
        return _plant(row) if row else None

    def name_taken(self, *, tenant_id: str, name: str) -> bool:
        return self.table.exists(self._session, tenant_id, plants.c.name == name)

    def list(self, *, tenant_id: str, page_size: int, page_token: str) -> tuple[list[Plant], str]:
        rows, token = self.table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token
        )
        return [_plant(r) for r in rows], token


class ProductionUnitOfWork(SqlUnitOfWork):
    plants: SqlPlantRepository

    def __enter__(self) -> ProductionUnitOfWork:
        super().__enter__()
        self.plants = SqlPlantRepository(self.session)
        return self
