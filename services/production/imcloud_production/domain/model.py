"""Plants, lines and stations: the physical structure of a tenant's production.

The structure is a tree per tenant: a plant has lines, a line has stations.
Each resource describes its place in the tree with class attributes, which
the generic parts of the domain and the store read instead of repeating the
rules once per resource:

- ``KIND``: its name in messages and event types ("plant");
- ``PARENT``: the field holding its parent's id, or None when the tenant is the
  parent; names are unique among resources with the same parent;
- ``CHILDREN``: what must be deleted before it can be ("lines"), or None;
- ``UPDATABLE``: the fields an update may change (its update_mask paths).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from zoneinfo import available_timezones

from imcloud_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)

NAME_MAX = 200
TEXT_MAX = 2000
DEFAULT_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class Plant:
    KIND: ClassVar[str] = "plant"
    PARENT: ClassVar[str | None] = None
    CHILDREN: ClassVar[str | None] = "lines"
    UPDATABLE: ClassVar[frozenset[str]] = frozenset({"name", "location", "time_zone"})

    id: str
    tenant_id: str
    name: str
    location: str
    time_zone: str
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True)
class Line:
    KIND: ClassVar[str] = "line"
    PARENT: ClassVar[str | None] = "plant_id"
    CHILDREN: ClassVar[str | None] = "stations"
    UPDATABLE: ClassVar[frozenset[str]] = frozenset({"name", "description"})

    id: str
    tenant_id: str
    plant_id: str
    name: str
    description: str
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True)
class Station:
    KIND: ClassVar[str] = "station"
    PARENT: ClassVar[str | None] = "line_id"
    CHILDREN: ClassVar[str | None] = None
    UPDATABLE: ClassVar[frozenset[str]] = frozenset(
        {"name", "description", "capabilities", "ideal_cycle_time_s", "ideal_cycle_times"}
    )

    id: str
    tenant_id: str
    line_id: str
    # The plant of the station's line, kept here so stations can be listed by
    # plant and their events keyed by it; a line never moves to another plant.
    plant_id: str
    name: str
    description: str
    create_time: datetime
    update_time: datetime
    # What operations it can run (routing steps name the capability they need).
    capabilities: tuple[str, ...] = ()
    # Seconds per unit when the part made has no time of its own below; 0: unknown.
    ideal_cycle_time_s: float = 0.0
    # Seconds per unit by part number.
    ideal_cycle_times: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        # The store hands back JSON lists; the domain keeps tuples.
        object.__setattr__(self, "capabilities", tuple(self.capabilities))

    def ideal_cycle_for(self, part_number: str, routing_ideal_s: float) -> float:
        """Seconds per unit of ``part_number`` here: the station's own time for the
        part, else the routing's, else the station's default."""
        return self.ideal_cycle_times.get(part_number) or routing_ideal_s or self.ideal_cycle_time_s


Resource = Plant | Line | Station
ResourceT = TypeVar("ResourceT", Plant, Line, Station)


def plant_id_of(resource: Resource) -> str:
    """The plant a resource belongs to: the key that orders its events."""
    return resource.id if isinstance(resource, Plant) else resource.plant_id


def checked(resource: ResourceT) -> ResourceT:
    """The resource with its fields normalised, or InvalidArgument naming every bad field."""
    normalised: dict[str, Any] = {"name": resource.name.strip()}
    if isinstance(resource, Plant):
        normalised["time_zone"] = resource.time_zone or DEFAULT_TIME_ZONE
    normal: ResourceT = dataclasses.replace(resource, **normalised)
    violations = [*_check_name(normal.name), *_check_fields(normal)]
    if violations:
        raise InvalidArgument(f"the {resource.KIND} is not valid", violations=tuple(violations))
    return normal


def _check_fields(resource: Resource) -> list[FieldViolation]:
    if isinstance(resource, Plant):
        violations = _check_length("location", resource.location, TEXT_MAX)
        if resource.time_zone not in _time_zones():
            violations.append(FieldViolation("time_zone", "not an IANA time zone name"))
        return violations
    violations = _check_length("description", resource.description, TEXT_MAX)
    field, _, parent_id = _parent(resource)
    if not parent_id:
        violations.append(FieldViolation(field, "must not be empty"))
    if isinstance(resource, Station):
        violations += _check_station_work(resource)
    return violations


CAPABILITY_MAX = 50
CAPABILITIES_MAX = 50
CYCLE_MAX_S = 86_400.0


def _check_station_work(station: Station) -> list[FieldViolation]:
    violations = []
    if len(station.capabilities) > CAPABILITIES_MAX:
        violations.append(FieldViolation("capabilities", f"at most {CAPABILITIES_MAX}"))
    for index, capability in enumerate(station.capabilities):
        if not 1 <= len(capability) <= CAPABILITY_MAX:
            violations.append(
                FieldViolation(f"capabilities[{index}]", f"1..{CAPABILITY_MAX} characters")
            )
    if len(set(station.capabilities)) != len(station.capabilities):
        violations.append(FieldViolation("capabilities", "each capability once"))
    if not 0 <= station.ideal_cycle_time_s <= CYCLE_MAX_S:
        violations.append(FieldViolation("ideal_cycle_time_s", f"0..{CYCLE_MAX_S:.0f} seconds"))
    for part_number, seconds in station.ideal_cycle_times.items():
        if not 0 < seconds <= CYCLE_MAX_S:
            violations.append(
                FieldViolation(
                    f"ideal_cycle_times[{part_number}]", f"over 0, at most {CYCLE_MAX_S:.0f} s"
                )
            )
    if len(station.ideal_cycle_times) > 1000:
        violations.append(FieldViolation("ideal_cycle_times", "at most 1000 part numbers"))
    return violations


def _parent(resource: Line | Station) -> tuple[str, str, str]:
    """The field naming the resource's parent, the parent's kind, and its id."""
    field = str(resource.PARENT)
    return field, field.removesuffix("_id"), getattr(resource, field)


def _check_name(value: str) -> list[FieldViolation]:
    if not value:
        return [FieldViolation("name", "must not be empty")]
    return _check_length("name", value, NAME_MAX)


def _check_length(field: str, value: str, limit: int) -> list[FieldViolation]:
    if len(value) > limit:
        return [FieldViolation(field, f"must be at most {limit} characters")]
    return []


_ZONES: frozenset[str] = frozenset()


def _time_zones() -> frozenset[str]:
    global _ZONES
    if not _ZONES:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


# The errors below are raised both by the domain's checks and by the store when
# a database constraint catches what a concurrent transaction slipped past them.


def not_found(kind: str, resource_id: str) -> NotFound:
    return NotFound(f"{kind} {resource_id!r} not found")


def name_taken(resource: Resource) -> AlreadyExists:
    if isinstance(resource, Plant):
        where = "in this tenant"
    else:
        _, parent_kind, parent_id = _parent(resource)
        where = f"in {parent_kind} {parent_id!r}"
    return AlreadyExists(
        f"a {resource.KIND} named {resource.name!r} already exists {where}",
        violations=(FieldViolation("name", f"already used by another {resource.KIND}"),),
    )


def unknown_parent(resource: Line | Station) -> InvalidArgument:
    field, parent_kind, parent_id = _parent(resource)
    return InvalidArgument(
        f"{parent_kind} {parent_id!r} not found",
        violations=(FieldViolation(field, f"no {parent_kind} with this id"),),
    )


def still_has_children(resource: Resource) -> FailedPrecondition:
    return FailedPrecondition(
        f"{resource.KIND} {resource.id!r} still has {resource.CHILDREN}; delete them first"
    )
