"""What a configuration selects: rules checked, formulas evaluated, the price, the BOM lines
and routing steps whose conditions hold and their recipes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from imcloud_servitization.domain.configurator.conditions import (
    Options,
    holds,
    in_bounds,
)
from imcloud_servitization.domain.configurator.definition import (
    ChoiceOption,
    Constant,
    ExcludesRule,
    FamilyDefinition,
    FromFormula,
    FromOption,
    NumberOption,
    OptionTerm,
    OptionValue,
    RangeRule,
    RequiresRule,
    Rule,
    TableRule,
    TextOption,
    value_key,
)
from imcloud_servitization.domain.configurator.results import (
    SelectedBomLine,
    SelectedProduct,
    SelectedStep,
)


@dataclass
class Selection:
    """The selections of one request, checked: per choice option the position of its value,
    per number option the grid position of its value, per text option its text."""

    definition: FamilyDefinition
    indices: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def value_of(self, name: str) -> OptionValue | None:
        option = self.definition.option(name)
        if isinstance(option, TextOption):
            return self.texts.get(name)
        index = self.indices.get(name)
        if index is None:
            return None
        if isinstance(option, ChoiceOption):
            return option.values[index].value
        assert isinstance(option, NumberOption)
        return option.value_at(index)

    def values(self) -> dict[str, OptionValue]:
        """The choice and number options' values."""
        return {name: value for name in self.indices if (value := self.value_of(name)) is not None}

    def as_mapping(self) -> dict[str, object]:
        """Every selected option's value, in the definition's order."""
        return {
            option.name: value
            for option in self.definition.options
            if (value := self.value_of(option.name)) is not None
        }


def rule_holds(rule: Rule, values: Mapping[str, OptionValue], options: Options) -> bool:
    """Whether a rule holds for a configuration giving every choice and number option a value."""
    match rule:
        case RequiresRule(condition=condition, then=then):
            return not holds(condition, values, options) or holds(then, values, options)
        case ExcludesRule(conditions=conditions):
            return not all(holds(condition, values, options) for condition in conditions)
        case RangeRule(condition=condition, option=name, min=low, max=high):
            if condition is not None and not holds(condition, values, options):
                return True
            option = options[name]
            assert isinstance(option, NumberOption)
            return in_bounds(option, float(values[name]), low, high)
        case TableRule(options=names, rows=rows):
            chosen = tuple(value_key(values[name]) for name in names)
            return any(tuple(value_key(value) for value in row) == chosen for row in rows)
    raise AssertionError(rule)


def evaluate_formulas(definition: FamilyDefinition, selection: Selection) -> dict[str, float]:
    values = selection.values()
    options: Options = {
        option.name: option
        for option in definition.options
        if isinstance(option, ChoiceOption | NumberOption)
    }
    derived: dict[str, float] = {}
    for formula in definition.formulas:
        total = formula.constant
        for term in formula.terms:
            if isinstance(term, OptionTerm):
                total += term.coefficient * float(values[term.option])
            elif holds(term.condition, values, options):
                total += term.add
        # Rounded so that sums of decimal steps read as typed (8.5 + 0.05 * 51 = 11.05).
        derived[formula.name] = round(total, 9)
    return derived


def unit_price(
    definition: FamilyDefinition, selection: Selection, derived: Mapping[str, float]
) -> float:
    """Base price, the chosen values' prices, number options' price per unit times their
    value and the price formula, rounded to cents."""
    total = definition.base_price
    for option in definition.options:
        index = selection.indices.get(option.name)
        if index is None:
            continue
        if isinstance(option, ChoiceOption):
            total += option.values[index].price
        elif isinstance(option, NumberOption):
            total += option.price_per_unit * option.value_at(index)
    if definition.price_formula:
        total += derived[definition.price_formula]
    return round(total, 2)


def select_product(definition: FamilyDefinition, selection: Selection) -> SelectedProduct:
    values = selection.values()
    options: Options = {
        option.name: option
        for option in definition.options
        if isinstance(option, ChoiceOption | NumberOption)
    }
    derived = evaluate_formulas(definition, selection)
    bom = tuple(
        SelectedBomLine(line.component_part_number, line.quantity, line.unit)
        for line in definition.bom
        if line.when is None or holds(line.when, values, options)
    )
    routing = []
    for step in definition.routing:
        if step.when is not None and not holds(step.when, values, options):
            continue
        recipe: dict[str, object] = {}
        for prop in step.recipe:
            match prop.source:
                case FromOption(option):
                    recipe[prop.name] = selection.value_of(option)
                case FromFormula(formula):
                    recipe[prop.name] = derived[formula]
                case Constant(value):
                    recipe[prop.name] = value
        routing.append(
            SelectedStep(
                step.name, step.capability, step.setup_time_s, step.ideal_cycle_time_s, recipe
            )
        )
    return SelectedProduct(
        bom=bom,
        routing=tuple(routing),
        derived=derived,
        unit_price=unit_price(definition, selection, derived),
    )
