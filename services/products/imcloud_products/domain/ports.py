"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_products.domain.model import Equipment, EquipmentModel


class EquipmentModelRepository(Protocol):
    def add(self, model: EquipmentModel) -> None: ...

    def get(self, *, tenant_id: str, model_id: str) -> EquipmentModel | None: ...

    def name_taken(self, *, tenant_id: str, name: str, other_than: str) -> bool:
        """Whether another model than ``other_than`` has the name."""

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[EquipmentModel], str]: ...

    def save(self, model: EquipmentModel) -> None: ...

    def remove(self, model: EquipmentModel) -> None: ...


class EquipmentRepository(Protocol):
    def add(self, equipment: Equipment) -> None: ...

    def get(self, *, tenant_id: str, equipment_id: str) -> Equipment | None: ...

    def serial_taken(
        self, *, tenant_id: str, model_id: str, serial_number: str, other_than: str
    ) -> bool:
        """Whether another machine than ``other_than`` of the model has the serial."""

    def any_of_model(self, *, tenant_id: str, model_id: str) -> bool: ...

    def list(
        self,
        *,
        tenant_id: str,
        model_id: str,
        station_id: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[Equipment], str]: ...

    def save(self, equipment: Equipment) -> None: ...

    def remove(self, equipment: Equipment) -> None: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def equipment_models(self) -> EquipmentModelRepository: ...

    @property
    def equipment(self) -> EquipmentRepository: ...
