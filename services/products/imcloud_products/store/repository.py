"""SQL implementations of the domain's ports; every query filters by tenant."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_core.unit_of_work import SqlUnitOfWork
from imcloud_products.domain.model import EquipmentModel, SignalDefinition, SignalType
from imcloud_products.store.tables import equipment_models


def _equipment_model(row: Row[Any]) -> EquipmentModel:
    values = row._asdict()
    values["signals"] = tuple(
        SignalDefinition(**{**s, "type": SignalType(s["type"])}) for s in values["signals"]
    )
    return EquipmentModel(**values)


class SqlEquipmentModelRepository:
    table = TenantTable(equipment_models)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, model: EquipmentModel) -> None:
        values = {
            "id": model.id,
            "tenant_id": model.tenant_id,
            "name": model.name,
            "manufacturer": model.manufacturer,
            "signals": [asdict(s) for s in model.signals],
            "create_time": model.create_time,
            "update_time": model.update_time,
        }
        self.table.insert(self._session, values)

    def get(self, *, tenant_id: str, model_id: str) -> EquipmentModel | None:
        row = self.table.get(self._session, tenant_id, model_id)
        return _equipment_model(row) if row else None

    def name_taken(self, *, tenant_id: str, name: str) -> bool:
        return self.table.exists(self._session, tenant_id, equipment_models.c.name == name)

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[EquipmentModel], str]:
        rows, token = self.table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token
        )
        return [_equipment_model(r) for r in rows], token


class ProductsUnitOfWork(SqlUnitOfWork):
    equipment_models: SqlEquipmentModelRepository

    def __enter__(self) -> ProductsUnitOfWork:
        super().__enter__()
        self.equipment_models = SqlEquipmentModelRepository(self.session)
        return self
