"""Facts the production domain records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from imcloud_production.domain.model import Resource


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True)
class StructureChanged:
    """A plant, line or station was created, updated or deleted."""

    change: Change
    # The resource after the change; for a deletion, as it was just before.
    resource: Resource
    occurred_at: datetime
