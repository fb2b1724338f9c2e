"""Facts the products domain records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_products.domain.desired import DesiredState
from imcloud_products.domain.model import AnomalyEpisode, Equipment, EquipmentModel


@dataclass(frozen=True)
class EquipmentModelCreated:
    equipment_model: EquipmentModel


@dataclass(frozen=True)
class EquipmentModelUpdated:
    equipment_model: EquipmentModel


@dataclass(frozen=True)
class EquipmentModelDeleted:
    equipment_model: EquipmentModel


@dataclass(frozen=True)
class EquipmentCreated:
    equipment: Equipment


@dataclass(frozen=True)
class EquipmentUpdated:
    equipment: Equipment


@dataclass(frozen=True)
class EquipmentDeleted:
    equipment: Equipment


@dataclass(frozen=True)
class DesiredStateChanged:
    desired: DesiredState


@dataclass(frozen=True)
class DesiredStateApplied:
    """The machine reported a newer applied desired version."""

    desired: DesiredState


@dataclass(frozen=True)
class EpisodeOpened:
    episode: AnomalyEpisode


@dataclass(frozen=True)
class EpisodeEscalated:
    """An open episode's severity rose; the episode as it is at that row."""

    episode: AnomalyEpisode


@dataclass(frozen=True)
class EpisodeClosed:
    episode: AnomalyEpisode


@dataclass(frozen=True)
class ConnectivityChanged:
    """A machine went offline (silent, or its device link closed) or came back."""

    tenant_id: str
    equipment_id: str
    offline: bool
    at_ms: int
    last_seen_ms: int
