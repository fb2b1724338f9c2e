"""The configurator against brute force on generated families: every value it offers
completes to a valid product and every value it removes does not; a conflict names a
minimal set of rules; the completion is the cheapest valid product (ties: first values).

The families are small (3-6 options of up to 4 values, 1-8 rules of every kind with nested
conditions, a price formula) so that every complete configuration can be enumerated.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from imcloud_core.errors import InvalidArgument
from imcloud_servitization.domain.configurator import Configurator, parse_definition
from imcloud_servitization.domain.configurator.definition import (
    ChoiceOption,
    FamilyDefinition,
    NumberOption,
)
from imcloud_servitization.domain.configurator.selection import (
    Selection,
    evaluate_formulas,
    rule_holds,
)

Document = dict[str, Any]


def _grid(option: Document) -> list[Any]:
    if option["kind"] == "choice":
        return [value["value"] for value in option["values"]]
    count = int((option["max"] - option["min"]) / option["step"] + 1e-9) + 1
    return [option["min"] + index * option["step"] for index in range(count)]


@st.composite
def _option(draw: st.DrawFn, index: int) -> Document:
    name = f"o{index}"
    if draw(st.booleans()):
        count = draw(st.integers(2, 4))
        return {
            "name": name,
            "kind": "choice",
            "values": [{"value": f"v{i}", "price": draw(st.integers(0, 5))} for i in range(count)],
        }
    low = draw(st.sampled_from([0, 1, -1]))
    step = draw(st.sampled_from([1, 0.5, 2]))
    count = draw(st.integers(1, 4))
    # Sometimes a max off the grid: the last value is the last step below it.
    high = low + step * (count - 1) + draw(st.sampled_from([0, 0, step / 2]))
    return {
        "name": name,
        "kind": "number",
        "min": low,
        "max": high,
        "step": step,
        "price_per_unit": draw(st.integers(-2, 2)),
    }


def _bound(draw: st.DrawFn, option: Document) -> float:
    # Bounds on and between grid values, and beyond both ends.
    return float(draw(st.sampled_from(_grid(option)))) + draw(
        st.sampled_from([0, 0, -0.25, 0.25, -5, 5])
    )


@st.composite
def _condition(draw: st.DrawFn, options: Sequence[Document], depth: int = 0) -> Document:
    kind = draw(st.sampled_from(["atom", "atom", "all", "any", "not"] if depth < 3 else ["atom"]))
    if kind in ("all", "any"):
        children = draw(st.lists(_condition(options, depth + 1), min_size=1, max_size=3))
        return {kind: children}
    if kind == "not":
        return {"not": draw(_condition(options, depth + 1))}
    option = draw(st.sampled_from(options))
    grid = _grid(option)
    if option["kind"] == "number" and draw(st.booleans()):
        low = _bound(draw, option) if draw(st.booleans()) else None
        high = _bound(draw, option) if low is None or draw(st.booleans()) else None
        if low is not None and high is not None and low > high:
            low, high = high, low
        return (
            {"option": option["name"]}
            | ({"min": low} if low is not None else {})
            | ({"max": high} if high is not None else {})
        )
    values = draw(st.lists(st.sampled_from(grid), min_size=1, max_size=len(grid), unique=True))
    return {"option": option["name"], "in": values}


@st.composite
def _rule(draw: st.DrawFn, index: int, options: Sequence[Document]) -> Document:
    name = f"r{index}"
    numbers = [option for option in options if option["kind"] == "number"]
    kind = draw(
        st.sampled_from(
            ["requires", "excludes", "range", "table"]
            if numbers
            else ["requires", "excludes", "table"]
        )
    )
    if kind == "requires":
        return {
            "name": name,
            "kind": kind,
            "if": draw(_condition(options)),
            "then": draw(_condition(options)),
        }
    if kind == "excludes":
        conditions = draw(st.lists(_condition(options), min_size=2, max_size=3))
        return {"name": name, "kind": kind, "conditions": conditions}
    if kind == "range":
        option = draw(st.sampled_from(numbers))
        low = _bound(draw, option)
        high = _bound(draw, option)
        rule: Document = {
            "name": name,
            "kind": kind,
            "option": option["name"],
            "min": min(low, high),
            "max": max(low, high),
        }
        if draw(st.booleans()):
            rule["if"] = draw(_condition(options))
        return rule
    columns = draw(
        st.lists(st.sampled_from(options), min_size=1, max_size=3, unique_by=lambda o: o["name"])
    )
    rows = draw(
        st.lists(
            st.tuples(*(st.sampled_from(_grid(column)) for column in columns)).map(list),
            min_size=1,
            max_size=5,
        )
    )
    return {"name": name, "kind": kind, "options": [c["name"] for c in columns], "rows": rows}


@st.composite
def _family(draw: st.DrawFn) -> tuple[Document, dict[str, Any]]:
    options = [draw(_option(index)) for index in range(draw(st.integers(3, 6)))]
    rules = [draw(_rule(index, options)) for index in range(draw(st.integers(1, 8)))]
    numbers = [option for option in options if option["kind"] == "number"]
    terms: list[Document] = [
        {"option": option["name"], "coefficient": draw(st.integers(-3, 3))}
        for option in numbers
        if draw(st.booleans())
    ]
    terms += [
        {"if": draw(_condition(options)), "add": draw(st.integers(-4, 4))}
        for _ in range(draw(st.integers(0, 2)))
    ]
    document = {
        "name": "Generated",
        "plant_id": "plant",
        "product_id": "product",
        "currency": "EUR",
        "base_price": 10,
        "options": options,
        "rules": rules,
        "formulas": [{"name": "surcharge", "constant": 1, "terms": terms}],
        "price_formula": "surcharge" if draw(st.booleans()) else None,
        "routing": [{"name": "make", "capability": "make", "ideal_cycle_time_s": 60}],
    }
    selections = {
        option["name"]: draw(st.sampled_from(_grid(option)))
        for option in options
        if draw(st.integers(0, 9)) < 4
    }
    return document, selections


def _configurations(definition: FamilyDefinition) -> list[dict[str, int]]:
    """Every complete configuration, as positions (choice index or grid index)."""
    names = [option.name for option in definition.options]
    sizes = [
        len(option.values) if isinstance(option, ChoiceOption) else option.last_index + 1
        for option in definition.options
        if isinstance(option, ChoiceOption | NumberOption)
    ]
    return [
        dict(zip(names, combination, strict=True))
        for combination in itertools.product(*map(range, sizes))
    ]


def _selection(definition: FamilyDefinition, positions: Mapping[str, int]) -> Selection:
    return Selection(definition, indices=dict(positions))


def _valid(
    definition: FamilyDefinition, positions: Mapping[str, int], rules: Sequence[Any]
) -> bool:
    options = {o.name: o for o in definition.options if isinstance(o, ChoiceOption | NumberOption)}
    values = _selection(definition, positions).values()
    return all(rule_holds(rule, values, options) for rule in rules)


def _price(definition: FamilyDefinition, positions: Mapping[str, int]) -> float:
    selection = _selection(definition, positions)
    total = definition.base_price
    for option in definition.options:
        if isinstance(option, ChoiceOption):
            total += option.values[positions[option.name]].price
        elif isinstance(option, NumberOption):
            total += option.price_per_unit * option.value_at(positions[option.name])
    if definition.price_formula:
        total += evaluate_formulas(definition, selection)[definition.price_formula]
    return total


def _positions(definition: FamilyDefinition, selections: Mapping[str, Any]) -> dict[str, int]:
    positions = {}
    for name, value in selections.items():
        option = definition.option(name)
        assert isinstance(option, ChoiceOption | NumberOption)
        index = option.index_of(value)
        assert index is not None
        positions[name] = index
    return positions


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_family())
def test_the_configurator_agrees_with_brute_force(family: tuple[Document, dict[str, Any]]) -> None:
    document, selections = family
    definition = parse_definition(document)
    configurator = Configurator(definition)
    fixed = _positions(definition, selections)
    candidates = [
        positions
        for positions in _configurations(definition)
        if all(positions[name] == index for name, index in fixed.items())
    ]
    valid = [
        positions for positions in candidates if _valid(definition, positions, definition.rules)
    ]

    if not valid:
        event("conflict")
        for ask in (configurator.configure, configurator.complete):
            with pytest.raises(InvalidArgument) as raised:
                ask(selections)
            named = {
                violation.field.removeprefix("rules.") for violation in raised.value.violations
            }
            assert all(
                violation.field.startswith("rules.") for violation in raised.value.violations
            )
            conflicting = [rule for rule in definition.rules if rule.name in named]
            assert len(conflicting) == len(named)
            # The named rules alone conflict with the selections...
            assert not any(_valid(definition, p, conflicting) for p in candidates)
            # ...and without any one of them a valid configuration exists.
            for rule in conflicting:
                rest = [other for other in conflicting if other is not rule]
                assert any(_valid(definition, p, rest) for p in candidates), rule.name
        return

    event("valid")
    configuration = configurator.configure(selections)
    for domain in configuration.domains:
        option = definition.option(domain.option)
        assert isinstance(option, ChoiceOption | NumberOption)
        completable = {positions[option.name] for positions in valid}
        if option.name in fixed:
            assert completable == {fixed[option.name]}
            continue
        if isinstance(option, ChoiceOption):
            assert domain.values is not None
            offered = {option.index_of(value) for value in domain.values}
        else:
            assert domain.ranges is not None
            offered = {
                index
                for low, high in domain.ranges
                for index in range(option.last_index + 1)
                if low <= option.value_at(index) <= high
            }
        assert offered == completable, option.name

    cheapest = min(
        valid,
        key=lambda positions: (
            _price(definition, positions),
            [positions[o.name] for o in definition.options],
        ),
    )
    completed = configurator.complete(selections)
    assert completed.complete
    assert _positions(definition, completed.selections) == cheapest
    assert completed.unit_price == pytest.approx(_price(definition, cheapest))
