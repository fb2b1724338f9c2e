"""The gateway's model of a product family definition mirrors the configurator's:
what it accepts reaches servitization as written, and both draw the same limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from imcloud_core.errors import InvalidArgument
from imcloud_gateway.api.http.schemas.customization import (
    DEFINITION_EXAMPLE,
    MAX_CONDITION_DEPTH,
    ConfigureRequest,
    ProductFamilyDefinition,
    UpdateProductFamilyRequest,
)
from imcloud_servitization.domain.configurator import parse_definition

COLOR = {"option": "color", "in": ["red", "black"]}
# Every kind of option, rule, term, recipe value and condition, defaults left out.
EVERY_KIND: dict[str, Any] = {
    "name": "Cabinet",
    "plant_id": "plant-1",
    "product_id": "product-1",
    "currency": "EUR",
    "base_price": 120,
    "options": [
        {"name": "color", "kind": "choice", "values": [{"value": "red"}, {"value": "black"}]},
        {"name": "shelves", "kind": "choice", "values": [{"value": 2}, {"value": 3, "price": 9.5}]},
        {"name": "width_mm", "kind": "number", "min": 400, "max": 1200, "step": 100},
        {"name": "label", "kind": "text", "required": True},
    ],
    "rules": [
        {
            "name": "wide-needs-three",
            "kind": "requires",
            "if": {"option": "width_mm", "min": 1000},
            "then": {"option": "shelves", "in": [3]},
        },
        {
            "name": "no-red-wide",
            "kind": "excludes",
            "conditions": [{"option": "color", "in": ["red"]}, {"option": "width_mm", "max": 600}],
            "message": "red comes narrow",
        },
        {"name": "sizes", "kind": "range", "option": "width_mm", "min": 500},
        {"name": "combos", "kind": "table", "options": ["color", "shelves"], "rows": [["red", 2]]},
    ],
    "formulas": [
        {
            "name": "boards",
            "constant": 2,
            "terms": [
                {"option": "width_mm", "coefficient": 0.001},
                {"if": {"any": [COLOR, {"not": {"all": [COLOR]}}]}, "add": 1},
            ],
        }
    ],
    "price_formula": "boards",
    "bom": [{"component_part_number": "BOARD", "quantity": 4, "unit": "pcs", "when": COLOR}],
    "routing": [
        {
            "name": "cut",
            "capability": "cutting",
            "ideal_cycle_time_s": 60,
            "recipe": {
                "width": {"option": "width_mm"},
                "boards": {"formula": "boards"},
                "program": {"value": "CUT-7"},
                "clamp": {"value": True},
                "old_offset": {"value": None},
            },
        }
    ],
}


def nested(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"option": "frame", "in": ["alu"]}
    for _ in range(depth - 1):
        condition = {"not": condition}
    return condition


def with_step_condition(condition: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(DEFINITION_EXAMPLE))
    document["routing"][0]["when"] = condition
    return document


@pytest.mark.parametrize("document", [DEFINITION_EXAMPLE, EVERY_KIND], ids=["example", "every"])
def test_a_definition_reaches_the_configurator_as_written(document: dict[str, Any]) -> None:
    sent = json.loads(ProductFamilyDefinition.model_validate(document).definition_json())
    assert sent == document
    parse_definition(sent)


def test_an_update_sends_the_definition_without_its_revision() -> None:
    update = UpdateProductFamilyRequest.model_validate({**DEFINITION_EXAMPLE, "revision": 3})
    assert json.loads(update.definition_json()) == DEFINITION_EXAMPLE


def test_conditions_nest_as_deep_as_the_configurator_compiles_them() -> None:
    deepest = with_step_condition(nested(MAX_CONDITION_DEPTH))
    parse_definition(json.loads(ProductFamilyDefinition.model_validate(deepest).definition_json()))

    too_deep = with_step_condition(nested(MAX_CONDITION_DEPTH + 1))
    with pytest.raises(ValidationError, match="nest at most 8 levels"):
        ProductFamilyDefinition.model_validate(too_deep)
    with pytest.raises(InvalidArgument):
        parse_definition(too_deep)


@pytest.mark.parametrize(
    "condition",
    [{"option": "frame"}, {"option": "frame", "min": None}, {"frame": "alu"}, {"all": []}],
)
def test_a_condition_of_no_known_shape_is_refused_where_it_stands(
    condition: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError) as refused:
        ProductFamilyDefinition.model_validate(with_step_condition(condition))
    assert {error["loc"][:3] for error in refused.value.errors()} == {("routing", 0, "when")}


def test_selections_keep_their_json_types() -> None:
    selections = {"size_cm": 54, "code": "54", "ratio": 0.5, "engraving": ""}
    configure = ConfigureRequest.model_validate({"selections": selections})
    assert json.dumps(configure.selections) == json.dumps(selections)
    for wrong in (True, None, [54], float("nan")):
        with pytest.raises(ValidationError) as refused:
            ConfigureRequest.model_validate({"selections": {"size_cm": wrong}})
        assert refused.value.errors()[0]["loc"] == ("selections", "size_cm")


@pytest.mark.parametrize("number", ["1" + "0" * 400, "1e400", "-1e400"])
def test_a_number_too_large_for_a_float_is_refused_not_a_crash(number: str) -> None:
    with pytest.raises(ValidationError, match="must be a number from"):
        ConfigureRequest.model_validate_json(f'{{"selections": {{"size": {number}}}}}')
