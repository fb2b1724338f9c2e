"""Plants, lines and stations: the physical structure of a tenant's production."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import available_timezones

from imcloud_core.errors import FieldViolation, InvalidArgument

NAME_MAX = 200
TEXT_MAX = 2000


@dataclass(frozen=True)
class Plant:
    id: str
    tenant_id: str
    name: str
    location: str
    time_zone: str
    create_time: datetime
    update_time: datetime


def check_plant_fields(*, name: str, location: str, time_zone: str) -> None:
    violations = [
        *_check_name("name", name),
        *_check_length("location", location, TEXT_MAX),
    ]
    if time_zone and time_zone not in _time_zones():
        violations.append(FieldViolation("time_zone", "not an IANA time zone name"))
    if violations:
        raise InvalidArgument("the plant is not valid", violations=tuple(violations))


def _check_name(field: str, value: str) -> list[FieldViolation]:
    if not value.strip():
        return [FieldViolation(field, "must not be empty")]
    return _check_length(field, value, NAME_MAX)


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
