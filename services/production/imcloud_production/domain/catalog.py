"""What a tenant makes and how its machines say what they do: products with their
routings and bills of materials, and the state mapping of each equipment model."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_core.nesting import MAX_NESTING, nesting_depth

PART_NUMBER_MAX = 100
UNIT_MAX = 20
ROUTING_MAX = 50
BOM_MAX = 500
CYCLE_MAX_S = 86_400.0
SIGNAL_MAX = 100
RULES_MAX = 50
DEFAULT_HOLD_S = 60
HOLD_MAX_S = 3600
# A recipe becomes the desired state of machines: the products service's limits.
RECIPE_MAX_BYTES = 16 * 1024
RECIPE_PROPERTIES_MAX = 256
PROPERTY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class EquipmentState(StrEnum):
    RUNNING = "running"
    IDLE = "idle"
    DOWN = "down"
    SETUP = "setup"
    PLANNED_STOP = "planned_stop"
    # Silent for longer than the mapping's hold time: never reported by a machine.
    NO_DATA = "no_data"


class Comparison(StrEnum):
    EQUAL = "equal"
    GREATER = "greater"
    LESS = "less"


class CounterKind(StrEnum):
    # A growing total; a smaller value is a reset.
    TOTAL = "total"
    # Each point is the units of one cycle.
    PER_CYCLE = "per_cycle"


@dataclass(frozen=True)
class RoutingStep:
    name: str
    capability: str
    setup_time_s: float
    ideal_cycle_time_s: float
    # A JSON object of desired properties for the station's machines; "": none.
    recipe_json: str = ""


@dataclass(frozen=True)
class BomLine:
    component_part_number: str
    quantity: float
    unit: str


@dataclass(frozen=True)
class Product:
    id: str
    tenant_id: str
    part_number: str
    name: str
    unit: str
    routing: tuple[RoutingStep, ...]
    bom: tuple[BomLine, ...]
    create_time: datetime


@dataclass(frozen=True)
class StateRule:
    comparison: Comparison
    value: float
    state: EquipmentState

    def holds(self, value: float) -> bool:
        match self.comparison:
            case Comparison.EQUAL:
                return value == self.value
            case Comparison.GREATER:
                return value > self.value
            case Comparison.LESS:
                return value < self.value


@dataclass(frozen=True)
class CountSignal:
    signal: str
    kind: CounterKind


@dataclass(frozen=True)
class StateMapping:
    tenant_id: str
    equipment_model_id: str
    state_signal: str
    rules: tuple[StateRule, ...]
    default_state: EquipmentState
    good: CountSignal | None
    scrap: CountSignal | None
    hold_s: int
    update_time: datetime

    def state_of(self, value: float) -> EquipmentState:
        for rule in self.rules:
            if rule.holds(value):
                return rule.state
        return self.default_state

    @property
    def signals(self) -> frozenset[str]:
        counted = [c.signal for c in (self.good, self.scrap) if c is not None]
        return frozenset([self.state_signal, *counted])


def checked_product(product: Product, *, offered: Iterable[str]) -> Product:
    """The product, or InvalidArgument naming each bad field; ``offered`` are the
    capabilities the tenant's stations offer."""
    violations = []
    violations += _text("part_number", product.part_number, PART_NUMBER_MAX, required=True)
    violations += _text("name", product.name, 200)
    violations += _text("unit", product.unit, UNIT_MAX, required=True)
    if not product.routing:
        violations.append(FieldViolation("routing", "needs at least one step"))
    violations += routing_violations(product.routing)
    capabilities = set(offered)
    for index, step in enumerate(product.routing):
        if step.capability and step.capability not in capabilities:
            violations.append(
                FieldViolation(
                    f"routing[{index}].capability",
                    f"no station offers {step.capability!r}; give a station this capability first",
                )
            )
    violations += bom_violations(product.bom, part_number=product.part_number)
    if violations:
        raise InvalidArgument("the product is not valid", violations=tuple(violations))
    return product


def routing_violations(
    routing: Sequence[RoutingStep], *, field: str = "routing"
) -> list[FieldViolation]:
    """What is wrong with a routing's steps themselves; whether stations offer
    their capabilities is for the caller (a product refuses, a release waits)."""
    violations = []
    if len(routing) > ROUTING_MAX:
        violations.append(FieldViolation(field, f"at most {ROUTING_MAX} steps"))
    for index, step in enumerate(routing):
        where = f"{field}[{index}]"
        violations += _text(f"{where}.name", step.name, 100, required=True)
        violations += _text(f"{where}.capability", step.capability, 50, required=True)
        if not 0 <= step.setup_time_s <= CYCLE_MAX_S:
            violations.append(FieldViolation(f"{where}.setup_time_s", "0..86400 seconds"))
        if not 0 < step.ideal_cycle_time_s <= CYCLE_MAX_S:
            violations.append(
                FieldViolation(f"{where}.ideal_cycle_time_s", "over 0, at most 86400 seconds")
            )
        if step.recipe_json:
            violations += _recipe_violations(f"{where}.recipe_json", step.recipe_json)
    return violations


def bom_violations(
    bom: Sequence[BomLine], *, part_number: str, field: str = "bom"
) -> list[FieldViolation]:
    violations = []
    if len(bom) > BOM_MAX:
        violations.append(FieldViolation(field, f"at most {BOM_MAX} lines"))
    for index, line in enumerate(bom):
        where = f"{field}[{index}]"
        violations += _text(
            f"{where}.component_part_number",
            line.component_part_number,
            PART_NUMBER_MAX,
            required=True,
        )
        if line.component_part_number == part_number:
            violations.append(
                FieldViolation(f"{where}.component_part_number", "a product cannot contain itself")
            )
        if not 0 < line.quantity <= 1e9:
            violations.append(FieldViolation(f"{where}.quantity", "over 0"))
        violations += _text(f"{where}.unit", line.unit, UNIT_MAX, required=True)
    return violations


def _recipe_violations(field: str, text: str) -> list[FieldViolation]:
    """A recipe is what the products service takes as a desired-state patch: a
    JSON object of named properties, finite numbers only, within its size limits."""
    if len(text.encode()) > RECIPE_MAX_BYTES:
        return [FieldViolation(field, f"at most {RECIPE_MAX_BYTES} bytes of JSON")]
    try:
        recipe = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return [FieldViolation(field, "must be a JSON object with finite numbers")]
    if not isinstance(recipe, dict):
        return [FieldViolation(field, "must be a JSON object")]
    if len(recipe) > RECIPE_PROPERTIES_MAX:
        return [FieldViolation(field, f"at most {RECIPE_PROPERTIES_MAX} properties")]
    for name in recipe:
        if not PROPERTY_NAME.match(name):
            return [
                FieldViolation(
                    field,
                    f"property {name[:70]!r}: a letter, then letters, digits, '_', '.', '-' "
                    "(at most 64)",
                )
            ]
    if nesting_depth(recipe) > MAX_NESTING:
        return [FieldViolation(field, f"at most {MAX_NESTING} levels of nested objects and lists")]
    if any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(recipe)):
        return [FieldViolation(field, "numbers must be finite")]
    return []


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _leaves(value: object) -> Iterable[object]:
    if isinstance(value, dict):
        for inner in value.values():
            yield from _leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner)
    else:
        yield value


def checked_mapping(mapping: StateMapping) -> StateMapping:
    violations = []
    violations += _text("state_signal", mapping.state_signal, SIGNAL_MAX, required=True)
    if len(mapping.rules) > RULES_MAX:
        violations.append(FieldViolation("rules", f"at most {RULES_MAX}"))
    for index, rule in enumerate(mapping.rules):
        if rule.state is EquipmentState.NO_DATA:
            violations.append(
                FieldViolation(f"rules[{index}].state", "no_data is what silence means")
            )
        if rule.value != rule.value:  # NaN never compares equal
            violations.append(FieldViolation(f"rules[{index}].value", "must be a number"))
    if mapping.default_state is EquipmentState.NO_DATA:
        violations.append(FieldViolation("default_state", "no_data is what silence means"))
    counted: dict[str, str] = {}
    for field, signal in (("good", mapping.good), ("scrap", mapping.scrap)):
        if signal is None:
            continue
        violations += _text(f"{field}.signal", signal.signal, SIGNAL_MAX, required=True)
        if signal.signal == mapping.state_signal:
            violations.append(FieldViolation(f"{field}.signal", "is the state signal"))
        if signal.signal in counted:
            violations.append(
                FieldViolation(f"{field}.signal", f"already counts {counted[signal.signal]}")
            )
        counted[signal.signal] = field
    if not 1 <= mapping.hold_s <= HOLD_MAX_S:
        violations.append(FieldViolation("hold_s", f"1..{HOLD_MAX_S} seconds"))
    if violations:
        raise InvalidArgument("the state mapping is not valid", violations=tuple(violations))
    return mapping


def _text(field: str, value: str, limit: int, *, required: bool = False) -> list[FieldViolation]:
    if required and not value.strip():
        return [FieldViolation(field, "must not be empty")]
    if len(value) > limit:
        return [FieldViolation(field, f"must be at most {limit} characters")]
    return []
