"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_products.domain.model import EquipmentModel


class EquipmentModelRepository(Protocol):
    def add(self, model: EquipmentModel) -> None: ...

    def get(self, *, tenant_id: str, model_id: str) -> EquipmentModel | None: ...

    def name_taken(self, *, tenant_id: str, name: str) -> bool: ...

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[EquipmentModel], str]: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def equipment_models(self) -> EquipmentModelRepository: ...
