"""Facts the production domain records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_production.domain.model import Plant


@dataclass(frozen=True)
class PlantCreated:
    plant: Plant
