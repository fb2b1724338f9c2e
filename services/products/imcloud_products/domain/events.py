"""Facts the products domain records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_products.domain.model import Equipment, EquipmentModel


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
