"""A product family's definition and its configurator on a small bike: what a person is
told about a wrong definition or a wrong selection, the interactive domains, the cheapest
completion and the product a complete configuration selects."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from imcloud_core.errors import InvalidArgument
from imcloud_servitization.domain.configurator import (
    Configurator,
    SelectedBomLine,
    parse_definition,
)

BIKE: dict[str, Any] = {
    "name": "Custom bike",
    "plant_id": "plant-1",
    "product_id": "product-1",
    "currency": "EUR",
    "base_price": 900.0,
    "options": [
        {
            "name": "frame",
            "label": "Frame",
            "kind": "choice",
            "values": [{"value": "alu", "price": 0}, {"value": "carbon", "price": 400}],
        },
        {
            "name": "brake",
            "kind": "choice",
            "values": [{"value": "rim", "price": 0}, {"value": "disc", "price": 120}],
        },
        {"name": "frame_size_cm", "kind": "number", "min": 48, "max": 62, "step": 1},
        {"name": "engraving", "kind": "text", "pattern": "^[A-Z ]{0,20}$", "max_length": 20},
    ],
    "rules": [
        {
            "name": "carbon-needs-disc",
            "kind": "requires",
            "if": {"option": "frame", "in": ["carbon"]},
            "then": {"option": "brake", "in": ["disc"]},
        },
        {
            "name": "rim-brakes-small-frames",
            "kind": "range",
            "if": {"option": "brake", "in": ["rim"]},
            "option": "frame_size_cm",
            "max": 52,
            "message": "rim brakes only fit frames up to 52 cm",
        },
    ],
    "formulas": [
        {
            "name": "weight_kg",
            "constant": 8.5,
            "terms": [
                {"option": "frame_size_cm", "coefficient": 0.05},
                {"if": {"option": "frame", "in": ["carbon"]}, "add": -1.2},
            ],
        }
    ],
    "bom": [
        {
            "component_part_number": "FRAME-C",
            "quantity": 1,
            "when": {"option": "frame", "in": ["carbon"]},
        },
        {
            "component_part_number": "FRAME-A",
            "quantity": 1,
            "when": {"option": "frame", "in": ["alu"]},
        },
        {"component_part_number": "BOLT", "quantity": 8},
    ],
    "routing": [
        {
            "name": "cut",
            "capability": "cut",
            "ideal_cycle_time_s": 120,
            "recipe": {
                "weight": {"formula": "weight_kg"},
                "brake": {"option": "brake"},
                "mode": {"value": "precise"},
            },
        },
        {
            "name": "cure",
            "capability": "oven",
            "ideal_cycle_time_s": 600,
            "when": {"option": "frame", "in": ["carbon"]},
        },
    ],
}


def _with(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(BIKE)
    document.update(changes)
    return document


def _fields(document: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        parse_definition(document)
    return {violation.field: violation.reason for violation in raised.value.violations}


def _selection_fields(configurator: Configurator, selections: dict[str, object]) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        configurator.configure(selections)
    return {violation.field: violation.reason for violation in raised.value.violations}


def test_a_definition_that_is_not_an_object_is_refused() -> None:
    assert list(_fields([])) == ["definition"]


def test_a_condition_on_an_unknown_option_names_its_path() -> None:
    rules = copy.deepcopy(BIKE["rules"])
    rules[0]["then"] = {"all": [{"option": "colour", "in": ["red"]}]}
    assert "names no option" in _fields(_with(rules=rules))["rules[0].then.all[0].option"]


def test_duplicate_names_are_refused() -> None:
    options = [
        *copy.deepcopy(BIKE["options"]),
        {"name": "frame", "kind": "number", "min": 1, "max": 2},
    ]
    rules = copy.deepcopy(BIKE["rules"]) * 2
    fields = _fields(_with(options=options, rules=rules))
    assert "appears twice" in fields["options[4].name"]
    assert "appears twice" in fields["rules[2].name"]


def test_a_text_option_cannot_be_used_by_a_rule() -> None:
    rules = [
        {
            "name": "r",
            "kind": "excludes",
            "conditions": [
                {"option": "engraving", "in": ["X"]},
                {"option": "frame", "in": ["alu"]},
            ],
        }
    ]
    assert "text option" in _fields(_with(rules=rules))["rules[0].conditions[0].option"]


def test_a_step_must_be_positive_and_not_too_fine() -> None:
    options = copy.deepcopy(BIKE["options"])
    options[2]["step"] = 0
    assert "greater than 0" in _fields(_with(options=options))["options[2].step"]
    options[2]["step"] = 0.00001
    assert "steps" in _fields(_with(options=options))["options[2].step"]


def test_limits_and_values_are_checked() -> None:
    options = copy.deepcopy(BIKE["options"])
    options[0]["values"] = [{"value": f"v{i}"} for i in range(101)]
    fields = _fields(_with(options=options, routing=[], currency="euro", quote_validity_s=10))
    assert "at most 100" in fields["options[0].values"]
    assert "at least one step" in fields["routing"]
    assert "currency" in fields
    assert "quote_validity_s" in fields
    rules = copy.deepcopy(BIKE["rules"])
    rules[0]["then"] = {"option": "frame_size_cm", "in": [48.5]}
    assert "not a value" in _fields(_with(rules=rules))["rules[0].then.in[0]"]
    deep: dict[str, Any] = {"option": "frame", "in": ["alu"]}
    for _ in range(8):
        deep = {"not": deep}
    rules[0]["then"] = deep
    assert any("deeper" in reason for reason in _fields(_with(rules=rules)).values())


def test_selections_an_option_cannot_take_name_the_option() -> None:
    configurator = Configurator(parse_definition(BIKE))
    fields = _selection_fields(
        configurator,
        {"color": "red", "frame": "steel", "brake": 3, "frame_size_cm": 48.5, "engraving": "abc"},
    )
    assert set(fields) == {
        "selections.color",
        "selections.frame",
        "selections.brake",
        "selections.frame_size_cm",
        "selections.engraving",
    }
    assert (
        "outside"
        in _selection_fields(configurator, {"frame_size_cm": 70})["selections.frame_size_cm"]
    )
    assert (
        "must be a number"
        in _selection_fields(configurator, {"frame_size_cm": "50"})["selections.frame_size_cm"]
    )


def test_the_domains_follow_the_selections() -> None:
    configurator = Configurator(parse_definition(BIKE))
    domains = {
        domain.option: domain for domain in configurator.configure({"frame": "carbon"}).domains
    }
    assert domains["frame"].selected == "carbon"
    assert domains["brake"].values == ("disc",)
    assert domains["frame_size_cm"].ranges == ((48.0, 62.0),)
    domains = {domain.option: domain for domain in configurator.configure({"brake": "rim"}).domains}
    assert domains["frame"].values == ("alu",)
    assert domains["frame_size_cm"].ranges == ((48.0, 52.0),)
    assert domains["engraving"].values is None
    assert domains["engraving"].ranges is None


def test_a_conflict_names_the_rules_with_their_messages() -> None:
    configurator = Configurator(parse_definition(BIKE))
    fields = _selection_fields(configurator, {"frame": "carbon", "brake": "rim"})
    assert list(fields) == ["rules.carbon-needs-disc"]
    assert "frame is carbon" in fields["rules.carbon-needs-disc"]
    fields = _selection_fields(configurator, {"frame": "alu", "brake": "rim", "frame_size_cm": 56})
    assert list(fields) == ["rules.rim-brakes-small-frames"]
    fields = _selection_fields(configurator, {"brake": "rim", "frame_size_cm": 56})
    assert fields == {"rules.rim-brakes-small-frames": "rim brakes only fit frames up to 52 cm"}


def test_the_completion_is_the_cheapest_and_selects_bom_routing_and_recipe() -> None:
    configurator = Configurator(parse_definition(BIKE))
    cheapest = configurator.complete({"frame": "carbon"})
    assert cheapest.complete
    assert cheapest.selections == {"frame": "carbon", "brake": "disc", "frame_size_cm": 48.0}
    assert cheapest.unit_price == 1420.0
    assert cheapest.derived == {"weight_kg": pytest.approx(9.7)}
    product = configurator.selected(cheapest.selections)
    assert product.bom == (
        SelectedBomLine("FRAME-C", 1.0, "pcs"),
        SelectedBomLine("BOLT", 8.0, "pcs"),
    )
    assert [step.name for step in product.routing] == ["cut", "cure"]
    assert product.routing[0].recipe == {
        "weight": pytest.approx(9.7),
        "brake": "disc",
        "mode": "precise",
    }
    assert product.routing[1].recipe == {}
    assert product.unit_price == 1420.0


def test_selected_needs_a_complete_configuration() -> None:
    configurator = Configurator(parse_definition(BIKE))
    with pytest.raises(InvalidArgument) as raised:
        configurator.selected({"frame": "alu"})
    assert [violation.field for violation in raised.value.violations] == ["selections"]
    with pytest.raises(InvalidArgument) as raised:
        configurator.selected({"frame": "carbon", "brake": "rim", "frame_size_cm": 50})
    assert [v.field for v in raised.value.violations] == ["rules.carbon-needs-disc"]


def test_a_configuration_that_selects_no_routing_step_cannot_be_made() -> None:
    carbon_only = copy.deepcopy(BIKE["routing"][1])
    configurator = Configurator(parse_definition(_with(routing=[carbon_only])))
    with pytest.raises(InvalidArgument, match="selects no routing step") as raised:
        configurator.selected({"frame": "alu", "brake": "disc", "frame_size_cm": 50})
    assert [v.field for v in raised.value.violations] == ["selections"]


def test_one_configurator_answers_several_threads_at_once() -> None:
    configurator = Configurator(parse_definition(BIKE))
    requests: list[dict[str, object]] = [
        {"frame": "carbon"},
        {"brake": "rim"},
        {"frame_size_cm": 56},
        {"frame": "alu", "brake": "disc"},
    ] * 4
    alone = [configurator.configure(selections) for selections in requests]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(configurator.configure, requests))
    assert together == alone
