"""What the configurator answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class OptionDomain:
    """What an option can still take: the selected value, or the values (choice options) or
    ranges (number options, inclusive, on the option's step) that a valid product can still
    have given the other selections. Text options have neither."""

    option: str
    selected: object | None
    values: tuple[str | float, ...] | None
    ranges: tuple[tuple[float, float], ...] | None


@dataclass(frozen=True)
class Configuration:
    selections: Mapping[str, object]
    # Every choice and number option and every required text option has a value.
    complete: bool
    # Every option, in the definition's order.
    domains: tuple[OptionDomain, ...]
    # The formulas' values when complete, else empty.
    derived: Mapping[str, float]
    unit_price: float | None


@dataclass(frozen=True)
class SelectedBomLine:
    component_part_number: str
    quantity: float
    unit: str


@dataclass(frozen=True)
class SelectedStep:
    name: str
    capability: str
    setup_time_s: float
    ideal_cycle_time_s: float
    # Recipe property -> its value for this configuration; {} when the step has none.
    recipe: Mapping[str, object]


@dataclass(frozen=True)
class SelectedProduct:
    """The product a complete configuration describes: its super BOM's and super routing's
    lines whose conditions hold, the formulas' values and the unit price."""

    bom: tuple[SelectedBomLine, ...]
    routing: tuple[SelectedStep, ...]
    derived: Mapping[str, float]
    unit_price: float
