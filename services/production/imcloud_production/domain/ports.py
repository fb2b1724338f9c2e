"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_production.domain.model import Plant


class PlantRepository(Protocol):
    def add(self, plant: Plant) -> None: ...

    def get(self, *, tenant_id: str, plant_id: str) -> Plant | None: ...

    def name_taken(self, *, tenant_id: str, name: str) -> bool: ...

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[Plant], str]: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def plants(self) -> PlantRepository: ...
