"""Equipment models (kinds of machines and the signals they report), the machines,
and the episodes found in their telemetry."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from imcloud_core.errors import FieldViolation, InvalidArgument

NAME_MAX = 200
MAX_SIGNALS = 256
SIGNAL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class SignalType(StrEnum):
    DOUBLE = "double"
    INTEGER = "integer"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class SignalDefinition:
    name: str
    unit: str = ""
    type: SignalType = SignalType.DOUBLE
    min_value: float | None = None
    max_value: float | None = None
    description: str = ""


@dataclass(frozen=True)
class EquipmentModel:
    id: str
    tenant_id: str
    name: str
    manufacturer: str
    signals: tuple[SignalDefinition, ...]
    create_time: datetime
    update_time: datetime
    signal_index: dict[str, SignalDefinition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signal_index", {s.name: s for s in self.signals})


def check_equipment_model_fields(
    *, name: str, manufacturer: str, signals: tuple[SignalDefinition, ...]
) -> None:
    violations: list[FieldViolation] = []
    if not name.strip():
        violations.append(FieldViolation("name", "must not be empty"))
    elif len(name) > NAME_MAX:
        violations.append(FieldViolation("name", f"must be at most {NAME_MAX} characters"))
    if len(manufacturer) > NAME_MAX:
        violations.append(FieldViolation("manufacturer", f"must be at most {NAME_MAX} characters"))
    if not signals:
        violations.append(FieldViolation("signals", "an equipment model needs at least one signal"))
    if len(signals) > MAX_SIGNALS:
        violations.append(FieldViolation("signals", f"at most {MAX_SIGNALS} signals"))
    seen: set[str] = set()
    for position, signal in enumerate(signals):
        violations.extend(_check_signal(f"signals[{position}]", signal, seen))
    if violations:
        raise InvalidArgument("the equipment model is not valid", violations=tuple(violations))


def _check_signal(path: str, signal: SignalDefinition, seen: set[str]) -> list[FieldViolation]:
    violations = []
    if not SIGNAL_NAME.match(signal.name):
        violations.append(
            FieldViolation(
                f"{path}.name",
                "must start with a letter and use only letters, digits, '_', '.', '-' "
                "(at most 64 characters)",
            )
        )
    elif signal.name in seen:
        violations.append(FieldViolation(f"{path}.name", f"duplicate signal {signal.name!r}"))
    seen.add(signal.name)
    for bound in ("min_value", "max_value"):
        value = getattr(signal, bound)
        if value is not None and not math.isfinite(value):
            violations.append(FieldViolation(f"{path}.{bound}", "must be a finite number"))
    if (
        signal.min_value is not None
        and signal.max_value is not None
        and signal.min_value >= signal.max_value
    ):
        violations.append(FieldViolation(f"{path}.max_value", "must be greater than min_value"))
    if len(signal.unit) > 32:
        violations.append(FieldViolation(f"{path}.unit", "must be at most 32 characters"))
    return violations


@dataclass(frozen=True)
class Equipment:
    id: str
    tenant_id: str
    equipment_model_id: str
    serial_number: str
    name: str
    station_id: str
    create_time: datetime
    update_time: datetime


def check_equipment_fields(*, serial_number: str, name: str) -> None:
    violations = []
    if not serial_number.strip():
        violations.append(FieldViolation("serial_number", "must not be empty"))
    elif len(serial_number) > 100:
        violations.append(FieldViolation("serial_number", "must be at most 100 characters"))
    if len(name) > NAME_MAX:
        violations.append(FieldViolation("name", f"must be at most {NAME_MAX} characters"))
    if violations:
        raise InvalidArgument("the equipment is not valid", violations=tuple(violations))


@dataclass(frozen=True)
class AnomalyEpisode:
    """An episode as it is stored, listed and announced. Anomaly scores are in
    units of the alarm threshold; data-quality scores are a share of signals."""

    id: str
    tenant_id: str
    equipment_id: str
    kind: str
    start_ms: int
    end_ms: int
    peak_score: float
    peak_ms: int
    rows: int
    severity: str
    top_signals: tuple[str, ...]
    quality_issues: tuple[str, ...]
    closed: bool
