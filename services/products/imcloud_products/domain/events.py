"""Facts the products domain records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_products.domain.model import EquipmentModel


@dataclass(frozen=True)
class EquipmentModelCreated:
    equipment_model: EquipmentModel
