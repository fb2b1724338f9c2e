"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_products.domain.desired import DesiredState
from imcloud_products.domain.events import ConnectivityChanged
from imcloud_products.domain.model import AnomalyEpisode, Equipment, EquipmentModel
from imcloud_products.domain.monitoring import MachineMonitor
from imcloud_products.domain.telemetry import (
    Aggregates,
    LinkChange,
    RecordedBatch,
    ReportedState,
)


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

    def get_many(self, *, tenant_id: str, equipment_ids: Sequence[str]) -> dict[str, Equipment]:
        """The tenant's machines among these, by id (the others are left out)."""
        ...

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


class DesiredStateRepository(Protocol):
    def get(
        self, *, tenant_id: str, equipment_id: str, for_update: bool = False
    ) -> DesiredState | None:
        """The machine's desired state, None if nothing was ever desired of it.
        ``for_update`` holds the machine until the transaction ends, so changes
        to one machine's desired state follow each other (none is lost)."""

    def get_many(self, *, tenant_id: str, equipment_ids: Sequence[str]) -> dict[str, DesiredState]:
        """The desired states among these machines', by machine (those never set left out)."""
        ...

    def save(self, state: DesiredState) -> None: ...

    def remove(self, *, tenant_id: str, equipment_id: str) -> None: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def equipment_models(self) -> EquipmentModelRepository: ...

    @property
    def equipment(self) -> EquipmentRepository: ...

    @property
    def desired_states(self) -> DesiredStateRepository: ...


# -- telemetry and equipment health ------------------------------------------------


class TelemetryReader(Protocol):
    def twins(self, *, tenant_id: str, equipment_ids: Sequence[str]) -> dict[str, ReportedState]:
        """Per machine asked: its latest values, when last seen, and its link."""

    def points(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        signals: list[str],
        start_ms: int,
        end_ms: int,
        limit: int,
        after: tuple[str, int] | None,
    ) -> list[tuple[str, int, float, int]]:
        """(signal, time, value, flags) ordered by (signal, time), after ``after``."""

    def aggregates(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        signals: list[str],
        start_ms: int,
        end_ms: int,
        bucket_ms: int,
    ) -> list[Aggregates]: ...


class HealthReader(Protocol):
    def latest_scores(self, *, tenant_id: str, equipment_ids: Sequence[str]) -> dict[str, float]:
        """The latest anomaly score of each machine that has one."""

    def open_episodes(
        self, *, tenant_id: str, equipment_ids: Sequence[str]
    ) -> dict[str, list[AnomalyEpisode]]:
        """Each machine's open episodes, newest first (machines with none left out)."""

    def episodes(
        self,
        *,
        tenant_id: str,
        equipment_ids: list[str] | None,
        station_ids: list[str] | None,
        kind: str,
        open_only: bool,
        page_size: int,
        page_token: str,
    ) -> tuple[list[AnomalyEpisode], str]:
        """Newest first; of the listed machines, or of the machines at the stations."""


class TelemetryWriter(Protocol):
    def record(self, batches: list[RecordedBatch]) -> list[RecordedBatch]:
        """Stores the batches' points once each; returns the batches new to the store,
        each with only the points new to it (a resend under a new sequence id
        brings none), so whatever scores them sees every point once."""

    def record_derived(self, batches: list[RecordedBatch]) -> None:
        """Stores series the platform computed itself (scores); the twin ignores them."""

    def record_link_changes(self, changes: list[LinkChange]) -> None: ...

    def connectivity_changes(
        self, *, now_ms: int, offline_after_ms: int
    ) -> list[ConnectivityChanged]:
        """Marks machines that went offline or came back, and says which."""


class MonitorRepository(Protocol):
    def load(self, equipment_ids: list[str]) -> dict[str, MachineMonitor]:
        """The saved monitors of these machines, by equipment id."""

    def save(self, monitors: list[MachineMonitor]) -> None: ...

    def forget(self, *, tenant_id: str, equipment_id: str) -> None: ...

    def silent_with_open_episodes(self, silent_since_ms: int) -> list[str]:
        """Machines not heard from since then that have an open episode."""

    def signals_of(self, *, tenant_id: str, equipment_id: str) -> tuple[str, ...] | None:
        """The signal names of the machine's model, in its order; None if it is gone."""


class EpisodeRepository(Protocol):
    def save(self, episodes: list[AnomalyEpisode]) -> None: ...

    def open_of(self, *, tenant_id: str, equipment_id: str) -> list[AnomalyEpisode]: ...


class TelemetryUnitOfWork(Transaction, Protocol):
    """One transaction of the telemetry path: the points, what the detectors
    learn from them, and the episodes and events that follow."""

    @property
    def telemetry(self) -> TelemetryWriter: ...

    @property
    def monitors(self) -> MonitorRepository: ...

    @property
    def episodes(self) -> EpisodeRepository: ...
