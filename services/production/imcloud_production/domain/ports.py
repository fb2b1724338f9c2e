"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_production.domain.model import Line, Plant, ResourceT, Station


class Repository(Protocol[ResourceT]):
    """One kind of resource of the structure tree; every method is tenant-scoped.

    ``equal`` keyword filters name fields of the resource (``plant_id=...``); each
    one given must match exactly.
    """

    def add(self, resource: ResourceT) -> None: ...

    def get(self, *, tenant_id: str, resource_id: str) -> ResourceT | None: ...

    def update(self, resource: ResourceT) -> None:
        """Stores the resource's current fields over the row with its id."""

    def remove(self, resource: ResourceT) -> None: ...

    def name_taken(self, resource: ResourceT) -> bool:
        """Whether another resource with the same parent already has this name."""

    def exists(self, *, tenant_id: str, **equal: str) -> bool: ...

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str, **equal: str
    ) -> tuple[list[ResourceT], str]: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def plants(self) -> Repository[Plant]: ...

    @property
    def lines(self) -> Repository[Line]: ...

    @property
    def stations(self) -> Repository[Station]: ...
