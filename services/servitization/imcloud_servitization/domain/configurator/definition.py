"""A product family's definition: its JSON document checked and turned into frozen values.

Every problem of a document is reported at once, each as a FieldViolation whose field is
the JSON path of the culprit ("options[2].values", "rules[5].if.option"), so a person
fixes a definition in one round. Option names are resolved here: conditions, rules,
formulas, tables and recipes only name options of a kind they can use, and every value a
condition or a table names is one the option can take, so the solver never meets a
dangling name or an impossible constant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from imcloud_core.errors import FieldViolation, InvalidArgument

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_OPTIONS = 500
MAX_RULES = 2000
MAX_VALUES = 100
MAX_STEPS = 1_000_000
MAX_CONDITION_DEPTH = 8
MAX_FORMULAS = 200
MAX_TERMS = 100
# A selected BOM and routing become a production work order's: production's limits.
MAX_BOM_LINES = 500
MAX_ROUTING_STEPS = 50
MAX_STEP_NAME = 100
MAX_CAPABILITY = 50
MAX_PART_NUMBER = 100
MAX_UNIT = 20
MAX_STEP_TIME_S = 86_400.0
MAX_RECIPE_PROPERTIES = 50
MAX_TABLE_ROWS = 10_000
MAX_TEXT_LENGTH = 10_000
DEFAULT_TEXT_LENGTH = 1000
MAX_PATTERN_LENGTH = 500
DEFAULT_QUOTE_VALIDITY_S = 604_800
MIN_QUOTE_VALIDITY_S = 60
MAX_QUOTE_VALIDITY_S = 7_776_000
# Bounds every number of a definition, and the price any one option or formula term can
# add, so the solver's integer price (in hundredths of a cent) never overflows.
MAX_MAGNITUDE = 1e9

OptionValue = str | float


# Conditions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueIn:
    """The option has one of these values."""

    option: str
    values: tuple[OptionValue, ...]


@dataclass(frozen=True)
class InRange:
    """The number option lies between the bounds (inclusive; None: unbounded)."""

    option: str
    min: float | None
    max: float | None


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    condition: Condition


Condition = ValueIn | InRange | AllOf | AnyOf | Not


# Options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceValue:
    value: OptionValue
    price: float


@dataclass(frozen=True)
class ChoiceOption:
    name: str
    label: str
    values: tuple[ChoiceValue, ...]

    def index_of(self, value: object) -> int | None:
        """The position of ``value`` among the choices (numbers compare by value)."""
        key = value_key(value)
        for index, choice in enumerate(self.values):
            if value_key(choice.value) == key:
                return index
        return None


@dataclass(frozen=True)
class NumberOption:
    """A number from min to max on the grid min + k * step."""

    name: str
    label: str
    min: float
    max: float
    step: float
    price_per_unit: float

    @property
    def last_index(self) -> int:
        return math.floor((self.max - self.min) / self.step + 1e-9)

    def value_at(self, index: int) -> float:
        # Rounded so that 48 + 3 * 0.1 reads 48.3, as the person typed it.
        return round(self.min + index * self.step, 9)

    def index_of(self, value: float) -> int | None:
        """The grid position of ``value``; None when outside min..max or off the step."""
        index = round((value - self.min) / self.step)
        if not 0 <= index <= self.last_index:
            return None
        if abs(self.min + index * self.step - value) > self.step * 1e-6:
            return None
        return index

    def first_index_from(self, bound: float) -> int:
        """The first grid position whose value is at least ``bound``."""
        return max(0, math.ceil((bound - self.min) / self.step - 1e-6))

    def last_index_to(self, bound: float) -> int:
        """The last grid position whose value is at most ``bound``."""
        return min(self.last_index, math.floor((bound - self.min) / self.step + 1e-6))


@dataclass(frozen=True)
class TextOption:
    name: str
    label: str
    pattern: str | None
    max_length: int
    required: bool


Option = ChoiceOption | NumberOption | TextOption


# Rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequiresRule:
    """When ``condition`` holds, ``then`` must hold."""

    name: str
    message: str
    condition: Condition
    then: Condition


@dataclass(frozen=True)
class ExcludesRule:
    """The conditions never all hold together."""

    name: str
    message: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class RangeRule:
    """When ``condition`` holds (always when None), the number option stays in min..max."""

    name: str
    message: str
    condition: Condition | None
    option: str
    min: float | None
    max: float | None


@dataclass(frozen=True)
class TableRule:
    """The options take the values of one of the rows together."""

    name: str
    message: str
    options: tuple[str, ...]
    rows: tuple[tuple[OptionValue, ...], ...]


Rule = RequiresRule | ExcludesRule | RangeRule | TableRule


# Formulas, BOM, routing ------------------------------------------------------------------


@dataclass(frozen=True)
class OptionTerm:
    """coefficient x the value of a number option."""

    option: str
    coefficient: float


@dataclass(frozen=True)
class ConditionTerm:
    """``add`` when the condition holds."""

    condition: Condition
    add: float


@dataclass(frozen=True)
class Formula:
    name: str
    constant: float
    terms: tuple[OptionTerm | ConditionTerm, ...]


@dataclass(frozen=True)
class FromOption:
    option: str


@dataclass(frozen=True)
class FromFormula:
    formula: str


@dataclass(frozen=True)
class Constant:
    value: str | float | bool | None


@dataclass(frozen=True)
class RecipeProperty:
    name: str
    source: FromOption | FromFormula | Constant


@dataclass(frozen=True)
class BomLine:
    component_part_number: str
    quantity: float
    unit: str
    when: Condition | None


@dataclass(frozen=True)
class RoutingStep:
    name: str
    capability: str
    setup_time_s: float
    ideal_cycle_time_s: float
    when: Condition | None
    recipe: tuple[RecipeProperty, ...]


@dataclass(frozen=True)
class FamilyDefinition:
    name: str
    description: str
    plant_id: str
    product_id: str
    currency: str
    base_price: float
    quote_validity_s: int
    options: tuple[Option, ...]
    rules: tuple[Rule, ...]
    formulas: tuple[Formula, ...]
    price_formula: str | None
    bom: tuple[BomLine, ...]
    routing: tuple[RoutingStep, ...]

    def option(self, name: str) -> Option | None:
        return next((option for option in self.options if option.name == name), None)

    def formula(self, name: str) -> Formula | None:
        return next((formula for formula in self.formulas if formula.name == name), None)


def value_key(value: object) -> tuple[str, object]:
    """What makes two option values the same: numbers by value (26 is 26.0), text exactly."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return (type(value).__name__, value)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Parsing ---------------------------------------------------------------------------------

_ABSENT = object()


class _Problems:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, reason: str) -> None:
        self.violations.append(FieldViolation(field, reason))


def parse_definition(document: object) -> FamilyDefinition:
    """Checks a definition document (``json.loads`` of its JSON) and returns it as values.

    Raises InvalidArgument naming every field in error.
    """
    problems = _Problems()
    if not isinstance(document, dict):
        raise InvalidArgument(
            "the definition is not valid",
            violations=(FieldViolation("definition", "must be a JSON object"),),
        )
    parser = _Parser(problems)
    definition = parser.definition(document)
    if problems.violations or definition is None:
        raise InvalidArgument("the definition is not valid", violations=tuple(problems.violations))
    return definition


class _Parser:
    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self.options: dict[str, Option] = {}
        self.formula_names: set[str] = set()

    # Scalars -----------------------------------------------------------------------------

    def _fields(self, path: str, value: object, allowed: set[str]) -> dict[str, object] | None:
        if not isinstance(value, dict):
            self.problems.add(path, "must be a JSON object")
            return None
        for key in value:
            if key not in allowed:
                self.problems.add(f"{path}.{key}" if path else key, "is not a known field")
        return value

    def _text(
        self,
        path: str,
        value: object,
        *,
        default: str | None = None,
        min_length: int = 0,
        max_length: int,
        pattern: re.Pattern[str] | None = None,
    ) -> str:
        if value is _ABSENT and default is not None:
            return default
        if not isinstance(value, str):
            self.problems.add(path, "is required" if value is _ABSENT else "must be a string")
            return ""
        if not min_length <= len(value) <= max_length:
            self.problems.add(path, f"must be {min_length} to {max_length} characters long")
        elif pattern is not None and not pattern.match(value):
            self.problems.add(path, f"must match {pattern.pattern}")
        return value

    def _name(self, path: str, value: object) -> str:
        if not isinstance(value, str):
            self.problems.add(path, "is required" if value is _ABSENT else "must be a string")
            return ""
        if not NAME.match(value):
            self.problems.add(
                path,
                "must start with a letter and hold at most 64 letters, digits, '_', '-' or '.'",
            )
        return value

    def _number(
        self,
        path: str,
        value: object,
        *,
        default: float | None = None,
        minimum: float = -MAX_MAGNITUDE,
        maximum: float = MAX_MAGNITUDE,
        positive: bool = False,
    ) -> float:
        if value is _ABSENT and default is not None:
            return default
        if not is_number(value):
            self.problems.add(path, "is required" if value is _ABSENT else "must be a number")
            return default if default is not None else 0.0
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number) or not minimum <= number <= maximum:
            self.problems.add(path, f"must be between {minimum:g} and {maximum:g}")
        elif positive and number <= 0:
            self.problems.add(path, "must be greater than 0")
        return number

    def _optional_number(self, path: str, value: object) -> float | None:
        if value is _ABSENT or value is None:
            return None
        return self._number(path, value)

    def _list(
        self, path: str, value: object, *, limit: int, required: bool = False
    ) -> list[object]:
        if value is _ABSENT and not required:
            return []
        if not isinstance(value, list):
            self.problems.add(path, "is required" if value is _ABSENT else "must be a list")
            return []
        if len(value) > limit:
            self.problems.add(path, f"must hold at most {limit} entries")
            return []
        return value

    def _unique(self, path: str, names: list[str], what: str) -> None:
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name and name in seen:
                self.problems.add(f"{path}[{index}].name", f"{what} {name!r} appears twice")
            seen.add(name)

    def _each(
        self, path: str, entries: list[object], parse: Callable[[str, object], Any]
    ) -> tuple[Any, ...]:
        parsed = (parse(f"{path}[{index}]", entry) for index, entry in enumerate(entries))
        return tuple(entry for entry in parsed if entry is not None)

    # The document ------------------------------------------------------------------------

    def definition(self, document: dict[str, object]) -> FamilyDefinition | None:
        self._fields(
            "",
            document,
            {
                "name",
                "description",
                "plant_id",
                "product_id",
                "currency",
                "base_price",
                "quote_validity_s",
                "options",
                "rules",
                "formulas",
                "price_formula",
                "bom",
                "routing",
            },
        )
        get = _getter(document)
        name = self._text("name", get("name"), min_length=1, max_length=200)
        description = self._text("description", get("description"), default="", max_length=2000)
        plant_id = self._text("plant_id", get("plant_id"), min_length=1, max_length=200)
        product_id = self._text("product_id", get("product_id"), min_length=1, max_length=200)
        currency = self._text("currency", get("currency"), max_length=3, pattern=CURRENCY)
        base_price = self._number("base_price", get("base_price"), minimum=0)
        validity = get("quote_validity_s")
        quote_validity_s = DEFAULT_QUOTE_VALIDITY_S
        if validity is not _ABSENT:
            if (
                not is_number(validity)
                or validity != int(validity)  # type: ignore[call-overload]
                or not MIN_QUOTE_VALIDITY_S <= validity <= MAX_QUOTE_VALIDITY_S  # type: ignore[operator]
            ):
                self.problems.add(
                    "quote_validity_s",
                    f"must be a whole number of seconds from {MIN_QUOTE_VALIDITY_S} "
                    f"to {MAX_QUOTE_VALIDITY_S}",
                )
            else:
                quote_validity_s = int(validity)  # type: ignore[call-overload]

        option_entries = self._list("options", get("options"), limit=MAX_OPTIONS)
        options = self._each("options", option_entries, self.option)
        self._unique("options", [_entry_name(entry) for entry in option_entries], "option")
        self.options = {option.name: option for option in options}

        rule_entries = self._list("rules", get("rules"), limit=MAX_RULES)
        rules = self._each("rules", rule_entries, self.rule)
        self._unique("rules", [_entry_name(entry) for entry in rule_entries], "rule")

        formula_entries = self._list("formulas", get("formulas"), limit=MAX_FORMULAS)
        formulas = self._each("formulas", formula_entries, self.formula)
        self._unique("formulas", [_entry_name(entry) for entry in formula_entries], "formula")
        self.formula_names = {formula.name for formula in formulas}

        price_formula_entry = get("price_formula")
        price_formula: str | None = None
        if price_formula_entry is not _ABSENT and price_formula_entry is not None:
            price_formula = self._name("price_formula", price_formula_entry)
            if price_formula and price_formula not in self.formula_names:
                self.problems.add("price_formula", f"names no formula: {price_formula!r}")

        bom = self._each("bom", self._list("bom", get("bom"), limit=MAX_BOM_LINES), self.bom_line)
        routing_entries = self._list(
            "routing", get("routing"), limit=MAX_ROUTING_STEPS, required=True
        )
        if isinstance(get("routing"), list) and not routing_entries:
            self.problems.add("routing", "must hold at least one step")
        routing = self._each("routing", routing_entries, self.routing_step)
        self._unique("routing", [_entry_name(entry) for entry in routing_entries], "step")
        if self.problems.violations:
            return None
        return FamilyDefinition(
            name=name,
            description=description,
            plant_id=plant_id,
            product_id=product_id,
            currency=currency,
            base_price=base_price,
            quote_validity_s=quote_validity_s,
            options=options,
            rules=rules,
            formulas=formulas,
            price_formula=price_formula,
            bom=bom,
            routing=routing,
        )

    # Options -----------------------------------------------------------------------------

    def option(self, path: str, entry: object) -> Option | None:
        fields = self._fields(
            path,
            entry,
            {
                "name",
                "label",
                "kind",
                "values",
                "min",
                "max",
                "step",
                "price_per_unit",
                "pattern",
                "max_length",
                "required",
            },
        )
        if fields is None:
            return None
        get = _getter(fields)
        name = self._name(f"{path}.name", get("name"))
        label = self._text(f"{path}.label", get("label"), default="", max_length=200)
        kind = get("kind")
        allowed: set[str]
        option: Option | None
        if kind == "choice":
            allowed = {"values"}
            option = self._choice(path, name, label, get("values"))
        elif kind == "number":
            allowed = {"min", "max", "step", "price_per_unit"}
            option = self._number_option(path, name, label, fields)
        elif kind == "text":
            allowed = {"pattern", "max_length", "required"}
            option = self._text_option(path, name, label, fields)
        else:
            self.problems.add(f"{path}.kind", "must be 'choice', 'number' or 'text'")
            return None
        for key in fields:
            if key not in allowed | {"name", "label", "kind"}:
                self.problems.add(f"{path}.{key}", f"does not apply to a {kind} option")
        return option

    def _choice(self, path: str, name: str, label: str, entries: object) -> ChoiceOption | None:
        values_path = f"{path}.values"
        listed = self._list(values_path, entries, limit=MAX_VALUES, required=True)
        if isinstance(entries, list) and not listed and len(entries) <= MAX_VALUES:
            self.problems.add(values_path, "must hold at least one value")
        values: list[ChoiceValue] = []
        seen: set[tuple[str, object]] = set()
        for index, entry in enumerate(listed):
            value_path = f"{values_path}[{index}]"
            fields = self._fields(value_path, entry, {"value", "price"})
            if fields is None:
                continue
            value = fields.get("value", _ABSENT)
            if isinstance(value, str):
                if not 1 <= len(value) <= 200:
                    self.problems.add(f"{value_path}.value", "must be 1 to 200 characters long")
            elif is_number(value):
                self._number(f"{value_path}.value", value)
            else:
                self.problems.add(f"{value_path}.value", "must be a string or a number")
                continue
            if value_key(value) in seen:
                self.problems.add(f"{value_path}.value", f"{value!r} appears twice")
            seen.add(value_key(value))
            price = self._number(f"{value_path}.price", fields.get("price", _ABSENT), default=0.0)
            values.append(ChoiceValue(value=value, price=price))  # type: ignore[arg-type]
        return ChoiceOption(name=name, label=label, values=tuple(values))

    def _number_option(
        self, path: str, name: str, label: str, fields: dict[str, object]
    ) -> NumberOption | None:
        before = len(self.problems.violations)
        low = self._number(f"{path}.min", fields.get("min", _ABSENT))
        high = self._number(f"{path}.max", fields.get("max", _ABSENT))
        step = self._number(f"{path}.step", fields.get("step", _ABSENT), default=1.0, positive=True)
        price_per_unit = self._number(
            f"{path}.price_per_unit", fields.get("price_per_unit", _ABSENT), default=0.0
        )
        if len(self.problems.violations) > before:
            return None
        if low > high:
            self.problems.add(f"{path}.max", "must be at least min")
            return None
        if (high - low) / step > MAX_STEPS:
            self.problems.add(f"{path}.step", f"makes more than {MAX_STEPS} steps from min to max")
            return None
        if abs(price_per_unit) * max(abs(low), abs(high)) > MAX_MAGNITUDE:
            self.problems.add(f"{path}.price_per_unit", f"prices a value above {MAX_MAGNITUDE:g}")
            return None
        return NumberOption(
            name=name, label=label, min=low, max=high, step=step, price_per_unit=price_per_unit
        )

    def _text_option(
        self, path: str, name: str, label: str, fields: dict[str, object]
    ) -> TextOption | None:
        pattern_entry = fields.get("pattern", _ABSENT)
        pattern: str | None = None
        if pattern_entry is not _ABSENT and pattern_entry is not None:
            pattern = self._text(f"{path}.pattern", pattern_entry, max_length=MAX_PATTERN_LENGTH)
            try:
                re.compile(pattern)
            except re.error as error:
                self.problems.add(f"{path}.pattern", f"is not a regular expression: {error}")
        max_length = DEFAULT_TEXT_LENGTH
        length_entry = fields.get("max_length", _ABSENT)
        if length_entry is not _ABSENT:
            if (
                not is_number(length_entry)
                or length_entry != int(length_entry)  # type: ignore[call-overload]
                or not 1 <= length_entry <= MAX_TEXT_LENGTH  # type: ignore[operator]
            ):
                self.problems.add(
                    f"{path}.max_length", f"must be a whole number from 1 to {MAX_TEXT_LENGTH}"
                )
            else:
                max_length = int(length_entry)  # type: ignore[call-overload]
        required = fields.get("required", False)
        if not isinstance(required, bool):
            self.problems.add(f"{path}.required", "must be true or false")
            required = False
        return TextOption(
            name=name, label=label, pattern=pattern, max_length=max_length, required=required
        )

    # References to options ---------------------------------------------------------------

    def _option_ref(
        self, path: str, value: object, *, what: str
    ) -> ChoiceOption | NumberOption | None:
        """A choice or number option named at ``path``; text options cannot be used there."""
        if not isinstance(value, str):
            self.problems.add(path, "is required" if value is _ABSENT else "must be a string")
            return None
        option = self.options.get(value)
        if option is None:
            self.problems.add(path, f"names no option: {value!r}")
            return None
        if isinstance(option, TextOption):
            self.problems.add(path, f"names the text option {value!r}, which {what} cannot use")
            return None
        return option

    def _value_of(
        self, path: str, option: ChoiceOption | NumberOption, value: object
    ) -> OptionValue | None:
        """``value`` as a value of ``option``, or None (reported) when it cannot take it."""
        if isinstance(option, ChoiceOption):
            index = option.index_of(value)
            if index is None:
                self.problems.add(path, f"{value!r} is not a value of {option.name!r}")
                return None
            return option.values[index].value
        if not is_number(value):
            self.problems.add(path, f"must be a number: {option.name!r} is a number option")
            return None
        if option.index_of(float(value)) is None:  # type: ignore[arg-type]
            self.problems.add(
                path,
                f"{value!r} is not a value of {option.name!r} "
                f"({option.min:g} to {option.max:g} by {option.step:g})",
            )
            return None
        return float(value)  # type: ignore[arg-type]

    def _bounds(
        self, path: str, fields: dict[str, object]
    ) -> tuple[float | None, float | None] | None:
        low = self._optional_number(f"{path}.min", fields.get("min", _ABSENT))
        high = self._optional_number(f"{path}.max", fields.get("max", _ABSENT))
        if low is None and high is None:
            self.problems.add(f"{path}.min", "min or max is required")
            return None
        if low is not None and high is not None and low > high:
            self.problems.add(f"{path}.max", "must be at least min")
            return None
        return low, high

    # Conditions --------------------------------------------------------------------------

    def condition(self, path: str, entry: object, depth: int = 1) -> Condition | None:
        if depth > MAX_CONDITION_DEPTH:
            self.problems.add(path, f"nests conditions deeper than {MAX_CONDITION_DEPTH}")
            return None
        if not isinstance(entry, dict):
            self.problems.add(path, "must be a condition object")
            return None
        if "all" in entry or "any" in entry:
            key = "all" if "all" in entry else "any"
            self._fields(path, entry, {key})
            listed = self._list(f"{path}.{key}", entry[key], limit=MAX_TERMS, required=True)
            if isinstance(entry[key], list) and not entry[key]:
                self.problems.add(f"{path}.{key}", "must hold at least one condition")
            children = tuple(
                child
                for index, item in enumerate(listed)
                if (child := self.condition(f"{path}.{key}[{index}]", item, depth + 1)) is not None
            )
            if len(children) < len(listed):
                return None
            return AllOf(children) if key == "all" else AnyOf(children)
        if "not" in entry:
            self._fields(path, entry, {"not"})
            child = self.condition(f"{path}.not", entry["not"], depth + 1)
            return None if child is None else Not(child)
        if "option" not in entry:
            self.problems.add(path, "must have 'option', 'all', 'any' or 'not'")
            return None
        option = self._option_ref(f"{path}.option", entry["option"], what="a condition")
        if "in" in entry:
            self._fields(path, entry, {"option", "in"})
            if option is None:
                return None
            listed = self._list(f"{path}.in", entry["in"], limit=MAX_VALUES, required=True)
            if isinstance(entry["in"], list) and not entry["in"]:
                self.problems.add(f"{path}.in", "must hold at least one value")
            values = [
                self._value_of(f"{path}.in[{index}]", option, item)
                for index, item in enumerate(listed)
            ]
            if not values or any(value is None for value in values):
                return None
            return ValueIn(option.name, tuple(value for value in values if value is not None))
        self._fields(path, entry, {"option", "min", "max"})
        bounds = self._bounds(path, entry)
        if option is None or bounds is None:
            return None
        if not isinstance(option, NumberOption):
            self.problems.add(f"{path}.option", f"{option.name!r} is not a number option")
            return None
        return InRange(option.name, *bounds)

    def _optional_condition(self, path: str, entry: object) -> Condition | None:
        """The condition at ``path``, None when absent (or in error: reported)."""
        if entry is _ABSENT or entry is None:
            return None
        return self.condition(path, entry)

    # Rules -------------------------------------------------------------------------------

    def rule(self, path: str, entry: object) -> Rule | None:
        fields = self._fields(
            path,
            entry,
            {
                "name",
                "kind",
                "if",
                "then",
                "conditions",
                "option",
                "min",
                "max",
                "options",
                "rows",
                "message",
            },
        )
        if fields is None:
            return None
        get = _getter(fields)
        before = len(self.problems.violations)
        name = self._name(f"{path}.name", get("name"))
        message = self._text(f"{path}.message", get("message"), default="", max_length=500)
        kind = get("kind")
        rule: Rule | None = None
        allowed = {"name", "kind", "message"}
        if kind == "requires":
            allowed |= {"if", "then"}
            condition = self.condition(f"{path}.if", get("if"))
            then = self.condition(f"{path}.then", get("then"))
            if condition is not None and then is not None:
                rule = RequiresRule(name, message, condition, then)
        elif kind == "excludes":
            allowed |= {"conditions"}
            listed = self._list(
                f"{path}.conditions", get("conditions"), limit=MAX_TERMS, required=True
            )
            if isinstance(get("conditions"), list) and len(listed) < 2:
                self.problems.add(f"{path}.conditions", "must hold at least two conditions")
            conditions = [
                self.condition(f"{path}.conditions[{index}]", item)
                for index, item in enumerate(listed)
            ]
            if all(condition is not None for condition in conditions):
                rule = ExcludesRule(name, message, tuple(c for c in conditions if c is not None))
        elif kind == "range":
            allowed |= {"if", "option", "min", "max"}
            condition = self._optional_condition(f"{path}.if", get("if"))
            option = self._option_ref(f"{path}.option", get("option"), what="a range rule")
            bounds = self._bounds(path, fields)
            if option is not None and not isinstance(option, NumberOption):
                self.problems.add(f"{path}.option", f"{option.name!r} is not a number option")
            elif option is not None and bounds is not None:
                rule = RangeRule(name, message, condition, option.name, *bounds)
        elif kind == "table":
            allowed |= {"options", "rows"}
            rule = self._table(path, name, message, get("options"), get("rows"))
        else:
            self.problems.add(f"{path}.kind", "must be 'requires', 'excludes', 'range' or 'table'")
            return None
        for key in fields:
            if key not in allowed:
                self.problems.add(f"{path}.{key}", f"does not apply to a {kind} rule")
        return rule if len(self.problems.violations) == before else None

    def _table(
        self, path: str, name: str, message: str, options_entry: object, rows_entry: object
    ) -> TableRule | None:
        listed = self._list(f"{path}.options", options_entry, limit=MAX_TERMS, required=True)
        if isinstance(options_entry, list) and not listed:
            self.problems.add(f"{path}.options", "must name at least one option")
        options = [
            self._option_ref(f"{path}.options[{index}]", item, what="a table")
            for index, item in enumerate(listed)
        ]
        names = [option.name for option in options if option is not None]
        if len(set(names)) < len(names):
            self.problems.add(f"{path}.options", "names an option twice")
        rows = self._list(f"{path}.rows", rows_entry, limit=MAX_TABLE_ROWS, required=True)
        if isinstance(rows_entry, list) and not rows:
            self.problems.add(f"{path}.rows", "must hold at least one row")
        if len(names) < len(options):
            return None
        parsed: list[tuple[OptionValue, ...]] = []
        for row_index, row in enumerate(rows):
            row_path = f"{path}.rows[{row_index}]"
            if not isinstance(row, list) or len(row) != len(options):
                self.problems.add(row_path, f"must be a list of {len(options)} values")
                continue
            values = [
                self._value_of(f"{row_path}[{index}]", option, item)
                for index, (option, item) in enumerate(zip(options, row, strict=True))
                if option is not None
            ]
            parsed.append(tuple(value for value in values if value is not None))
        return TableRule(name, message, tuple(names), tuple(parsed))

    # Formulas, BOM, routing --------------------------------------------------------------

    def formula(self, path: str, entry: object) -> Formula | None:
        fields = self._fields(path, entry, {"name", "constant", "terms"})
        if fields is None:
            return None
        before = len(self.problems.violations)
        name = self._name(f"{path}.name", fields.get("name", _ABSENT))
        constant = self._number(f"{path}.constant", fields.get("constant", _ABSENT), default=0.0)
        terms: list[OptionTerm | ConditionTerm] = []
        listed = self._list(f"{path}.terms", fields.get("terms", _ABSENT), limit=MAX_TERMS)
        for index, item in enumerate(listed):
            term_path = f"{path}.terms[{index}]"
            term = self._fields(term_path, item, {"option", "coefficient", "if", "add"})
            if term is None:
                continue
            if "if" in term:
                self._fields(term_path, term, {"if", "add"})
                condition = self.condition(f"{term_path}.if", term["if"])
                add = self._number(f"{term_path}.add", term.get("add", _ABSENT))
                if condition is not None:
                    terms.append(ConditionTerm(condition, add))
                continue
            self._fields(term_path, term, {"option", "coefficient"})
            option = self._option_ref(
                f"{term_path}.option", term.get("option", _ABSENT), what="a formula"
            )
            coefficient = self._number(f"{term_path}.coefficient", term.get("coefficient", _ABSENT))
            if option is None:
                continue
            if not isinstance(option, NumberOption):
                self.problems.add(f"{term_path}.option", f"{option.name!r} is not a number option")
            elif abs(coefficient) * max(abs(option.min), abs(option.max)) > MAX_MAGNITUDE:
                self.problems.add(
                    f"{term_path}.coefficient", f"makes a term above {MAX_MAGNITUDE:g}"
                )
            else:
                terms.append(OptionTerm(option.name, coefficient))
        if len(self.problems.violations) > before:
            return None
        return Formula(name=name, constant=constant, terms=tuple(terms))

    def bom_line(self, path: str, entry: object) -> BomLine | None:
        fields = self._fields(path, entry, {"component_part_number", "quantity", "unit", "when"})
        if fields is None:
            return None
        before = len(self.problems.violations)
        part = self._text(
            f"{path}.component_part_number",
            fields.get("component_part_number", _ABSENT),
            min_length=1,
            max_length=MAX_PART_NUMBER,
        )
        quantity = self._number(f"{path}.quantity", fields.get("quantity", _ABSENT), positive=True)
        unit = self._text(
            f"{path}.unit",
            fields.get("unit", _ABSENT),
            default="pcs",
            min_length=1,
            max_length=MAX_UNIT,
        )
        when = self._optional_condition(f"{path}.when", fields.get("when", _ABSENT))
        if len(self.problems.violations) > before:
            return None
        return BomLine(part, quantity, unit, when)

    def routing_step(self, path: str, entry: object) -> RoutingStep | None:
        fields = self._fields(
            path,
            entry,
            {"name", "capability", "setup_time_s", "ideal_cycle_time_s", "when", "recipe"},
        )
        if fields is None:
            return None
        before = len(self.problems.violations)
        name = self._text(
            f"{path}.name", fields.get("name", _ABSENT), min_length=1, max_length=MAX_STEP_NAME
        )
        capability = self._text(
            f"{path}.capability",
            fields.get("capability", _ABSENT),
            min_length=1,
            max_length=MAX_CAPABILITY,
        )
        setup = self._number(
            f"{path}.setup_time_s",
            fields.get("setup_time_s", _ABSENT),
            default=0.0,
            minimum=0,
            maximum=MAX_STEP_TIME_S,
        )
        cycle = self._number(
            f"{path}.ideal_cycle_time_s",
            fields.get("ideal_cycle_time_s", _ABSENT),
            minimum=0,
            maximum=MAX_STEP_TIME_S,
            positive=True,
        )
        when = self._optional_condition(f"{path}.when", fields.get("when", _ABSENT))
        recipe = self._recipe(f"{path}.recipe", fields.get("recipe", _ABSENT))
        if len(self.problems.violations) > before:
            return None
        return RoutingStep(name, capability, setup, cycle, when, recipe)

    def _recipe(self, path: str, entry: object) -> tuple[RecipeProperty, ...]:
        if entry is _ABSENT or entry is None:
            return ()
        if not isinstance(entry, dict):
            self.problems.add(path, "must be a JSON object of recipe properties")
            return ()
        if len(entry) > MAX_RECIPE_PROPERTIES:
            self.problems.add(path, f"must hold at most {MAX_RECIPE_PROPERTIES} properties")
            return ()
        properties: list[RecipeProperty] = []
        for key, source in entry.items():
            property_path = f"{path}.{key}"
            self._name(property_path, key)
            fields = self._fields(property_path, source, {"option", "formula", "value"})
            if fields is None:
                continue
            if len(fields) != 1:
                self.problems.add(
                    property_path, "must have exactly one of 'option', 'formula', 'value'"
                )
                continue
            if "option" in fields:
                option = fields["option"]
                if not isinstance(option, str) or option not in self.options:
                    self.problems.add(f"{property_path}.option", f"names no option: {option!r}")
                    continue
                properties.append(RecipeProperty(key, FromOption(option)))
            elif "formula" in fields:
                formula = fields["formula"]
                if not isinstance(formula, str) or formula not in self.formula_names:
                    self.problems.add(f"{property_path}.formula", f"names no formula: {formula!r}")
                    continue
                properties.append(RecipeProperty(key, FromFormula(formula)))
            else:
                value = fields["value"]
                if value is not None and not isinstance(value, str | bool) and not is_number(value):
                    self.problems.add(
                        f"{property_path}.value", "must be a string, number, boolean or null"
                    )
                    continue
                if is_number(value) and not math.isfinite(float(value)):  # type: ignore[arg-type]
                    self.problems.add(f"{property_path}.value", "must be a finite number")
                    continue
                if isinstance(value, str) and len(value) > 1000:
                    self.problems.add(
                        f"{property_path}.value", "must be at most 1000 characters long"
                    )
                    continue
                properties.append(RecipeProperty(key, Constant(value)))  # type: ignore[arg-type]
        return tuple(properties)


def _getter(fields: Mapping[str, object]) -> Callable[[str], object]:
    def get(key: str) -> object:
        return fields.get(key, _ABSENT)

    return get


def _entry_name(entry: object) -> str:
    if isinstance(entry, Mapping):
        name = entry.get("name")
        if isinstance(name, str):
            return name
    return ""
