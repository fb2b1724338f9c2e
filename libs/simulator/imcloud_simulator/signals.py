"""What a machine kind reports, in the shape of the REST API's equipment model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SignalType = Literal["double", "integer", "boolean"]


@dataclass(frozen=True)
class Signal:
    """One signal of an equipment model (POST /v1/equipment-models ``signals[]``)."""

    name: str
    unit: str = ""
    type: SignalType = "double"
    # The valid range: points outside are stored and flagged by the platform.
    min_value: float | None = None
    max_value: float | None = None
    description: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "type": self.type,
            "min_value": self.min_value,
            "max_value": self.max_value,
            "description": self.description,
        }


@dataclass(frozen=True)
class MachineKind:
    """A kind of machine as it is registered: its equipment model and where it stands."""

    key: str
    label: str
    model_name: str
    manufacturer: str
    line_name: str
    serial_prefix: str
    signals: tuple[Signal, ...]

    @property
    def signal_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.signals)

    def index(self, name: str) -> int:
        return self.signal_names.index(name)

    def model_body(self) -> dict[str, Any]:
        return {
            "name": self.model_name,
            "manufacturer": self.manufacturer,
            "signals": [s.body() for s in self.signals],
        }
