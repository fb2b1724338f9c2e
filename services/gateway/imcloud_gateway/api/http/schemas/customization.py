"""Bodies of the mass customization routes: product families (the definition a
tenant writes), configurations, quotes and customer orders.

The definition's models check each field's form and size; what the fields mean
together (a condition naming an option that exists, a table's values, a formula's
terms) the servitization service judges, and its 422 names the field the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic.config import JsonDict

from imcloud_gateway.api.http.schemas.common import Body, Name
from imcloud_gateway.api.http.schemas.production import Capability
from imcloud_gateway.api.http.schemas.work_orders import BomLineBody, RoutingStepBody, Seconds

# Condition nesting the configurator compiles: {"not": {"option": ...}} is two levels.
MAX_CONDITION_DEPTH = 8
# A number in a definition: prices, bounds, coefficients (the configurator prices in
# integers, which this keeps from overflowing).
MAX_MAGNITUDE = 1e9
# Names of options, rules, formulas and recipe properties.
ItemName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")]
Number = Annotated[float, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
Label = Annotated[str, Field(max_length=200)]
Message = Annotated[
    str,
    Field(
        max_length=500,
        description="What a person is told when the rule is broken; empty: a sentence "
        "generated from the rule",
    ),
]
# A choice's value; a text option's text; a recipe's string.
MAX_VALUE = 200
MAX_TEXT = 10_000
MAX_RECIPE_TEXT = 1000


def _scalar_check(min_length: int, max_length: int, *, booleans: bool = False) -> AfterValidator:
    """Checks a JSON string or number (or true/false/null, if ``booleans``), kept as
    given: 54 stays a number and "54" a string, which the configurator tells apart."""

    def check(value: object) -> object:
        if value is None or isinstance(value, bool):
            if booleans:
                return value
            raise ValueError("must be a string or a number")
        if isinstance(value, int | float):
            # The magnitude first: a huge integer has no float to test for finiteness.
            if abs(value) > MAX_MAGNITUDE or not math.isfinite(value):
                raise ValueError(f"must be a number from {-MAX_MAGNITUDE:g} to {MAX_MAGNITUDE:g}")
            return value
        if isinstance(value, str):
            if not min_length <= len(value) <= max_length:
                raise ValueError(f"must be {min_length} to {max_length} characters long")
            return value
        raise ValueError("must be a string or a number")

    return AfterValidator(check)


def _scalar_schema(min_length: int, max_length: int, *, booleans: bool = False) -> WithJsonSchema:
    kinds: list[JsonDict] = [
        {"type": "string", "minLength": min_length, "maxLength": max_length},
        {"type": "number"},
    ]
    if booleans:
        kinds += [{"type": "boolean"}, {"type": "null"}]
    return WithJsonSchema({"anyOf": kinds})  # type: ignore[dict-item]


# A value of a choice or number option, as choices, conditions and tables name it.
Value = Annotated[Any, _scalar_check(1, MAX_VALUE), _scalar_schema(1, MAX_VALUE)]
# A selection: also a text option's text.
Selection = Annotated[Any, _scalar_check(0, MAX_TEXT), _scalar_schema(0, MAX_TEXT)]
# A fixed recipe property; null removes the property from the machines' desired state.
RecipeScalar = Annotated[
    Any,
    _scalar_check(0, MAX_RECIPE_TEXT, booleans=True),
    _scalar_schema(0, MAX_RECIPE_TEXT, booleans=True),
]


def _by_key(*keys: str) -> Callable[[object], str | None]:
    """Tells union members apart by the first of ``keys`` an object holds."""

    def tag(value: object) -> str | None:
        # A JSON object when validating; a model when serializing (its fields by alias).
        fields = (
            {field.alias or name for name, field in type(value).model_fields.items()}
            if isinstance(value, BaseModel)
            else value
        )
        return next((key for key in keys if isinstance(fields, dict | set) and key in fields), None)

    return tag


# -- conditions --------------------------------------------------------------------


class OptionIn(Body):
    """Holds when the option's value is one of these (a choice option, or a number option
    with numbers)."""

    option: ItemName
    in_: list[Value] = Field(alias="in", min_length=1, max_length=100)


class OptionRange(Body):
    """Holds when the number option's value is within min..max (either may be left out)."""

    option: ItemName
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self


class _Nesting(Body):
    @model_validator(mode="after")
    def _shallow(self) -> Self:
        # The inner conditions were checked first: the first level past the limit
        # is the one refused.
        if condition_depth(self) > MAX_CONDITION_DEPTH:
            raise ValueError(f"conditions nest at most {MAX_CONDITION_DEPTH} levels deep")
        return self


class AllOf(_Nesting):
    """Holds when every condition holds."""

    all: list[Condition] = Field(min_length=1, max_length=100)


class AnyOf(_Nesting):
    """Holds when at least one condition holds."""

    any: list[Condition] = Field(min_length=1, max_length=100)


class Not(_Nesting):
    """Holds when the condition does not."""

    not_: Condition = Field(alias="not")


def _condition_kind(value: object) -> str | None:
    kind: str | None = _by_key("in", "all", "any", "not")(value)
    if kind is None and _by_key("min", "max")(value) is not None:
        return "range"
    return kind


Condition = Annotated[
    Annotated[OptionIn, Tag("in")]
    | Annotated[OptionRange, Tag("range")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(
        _condition_kind,
        custom_error_type="invalid_condition",
        custom_error_message=(
            "a condition is {option, in}, {option, min, max}, {all: [...]}, {any: [...]} "
            "or {not: ...}"
        ),
    ),
]


def condition_depth(condition: BaseModel) -> int:
    """Levels of conditions, the option's test included (which alone is 1)."""
    if isinstance(condition, AllOf):
        return 1 + max(map(condition_depth, condition.all))
    if isinstance(condition, AnyOf):
        return 1 + max(map(condition_depth, condition.any))
    if isinstance(condition, Not):
        return 1 + condition_depth(condition.not_)
    return 1


# -- options -----------------------------------------------------------------------


class ChoiceValue(Body):
    value: Value = Field(examples=["carbon"], description="A string or a number")
    price: Number = Field(0.0, description="Added to the unit price when chosen")


class ChoiceOption(Body):
    """One of a list of values."""

    name: ItemName
    label: Label = ""
    kind: Literal["choice"]
    values: list[ChoiceValue] = Field(min_length=1, max_length=100)


class NumberOption(Body):
    """A number from min to max on the step grid (min, min + step, ...)."""

    name: ItemName
    label: Label = ""
    kind: Literal["number"]
    min: Number
    max: Number
    step: float = Field(
        1.0, gt=0, le=MAX_MAGNITUDE, description="At most 10^6 steps from min to max"
    )
    price_per_unit: Number = Field(0.0, description="Times the value, added to the unit price")


class TextOption(Body):
    """Free text, such as an engraving; it cannot appear in conditions, rules or formulas."""

    name: ItemName
    label: Label = ""
    kind: Literal["text"]
    pattern: str | None = Field(
        None, max_length=500, description="A regular expression the text must match"
    )
    max_length: int = Field(1000, ge=1, le=MAX_TEXT)
    required: bool = Field(False, description="A complete configuration needs it")


Option = Annotated[ChoiceOption | NumberOption | TextOption, Field(discriminator="kind")]


# -- rules -------------------------------------------------------------------------


class RequiresRule(Body):
    """When `if` holds, `then` must hold."""

    name: ItemName
    kind: Literal["requires"]
    if_: Condition = Field(alias="if")
    then: Condition
    message: Message = ""


class ExcludesRule(Body):
    """The conditions never all hold together."""

    name: ItemName
    kind: Literal["excludes"]
    conditions: list[Condition] = Field(min_length=2, max_length=100)
    message: Message = ""


class RangeRule(Body):
    """When `if` holds (always, when left out), the number option stays within min..max."""

    name: ItemName
    kind: Literal["range"]
    if_: Condition | None = Field(None, alias="if")
    option: ItemName
    min: Number | None = None
    max: Number | None = None
    message: Message = ""


class TableRule(Body):
    """The options' values together are one of the rows."""

    name: ItemName
    kind: Literal["table"]
    options: list[ItemName] = Field(min_length=1, max_length=50)
    rows: list[Annotated[list[Value], Field(min_length=1, max_length=50)]] = Field(
        min_length=1, max_length=10_000, description="One value per option, in their order"
    )
    message: Message = ""


Rule = Annotated[RequiresRule | ExcludesRule | RangeRule | TableRule, Field(discriminator="kind")]


# -- formulas, BOM, routing --------------------------------------------------------


class OptionTerm(Body):
    """coefficient x the number option's value."""

    option: ItemName
    coefficient: Number


class ConditionTerm(Body):
    """add, when the condition holds."""

    if_: Condition = Field(alias="if")
    add: Number


Term = Annotated[
    Annotated[OptionTerm, Tag("option")] | Annotated[ConditionTerm, Tag("if")],
    Discriminator(
        _by_key("option", "if"),
        custom_error_type="invalid_term",
        custom_error_message="a term is {option, coefficient} or {if, add}",
    ),
]


class Formula(Body):
    """A derived value: constant + the sum of the terms."""

    name: ItemName
    constant: Number = 0.0
    terms: list[Term] = Field([], max_length=100)


class SuperBomLine(BomLineBody):
    when: Condition | None = Field(None, description="Selects the line; left out: always")


class FromOption(Body):
    option: ItemName = Field(description="The option's selected value")


class FromFormula(Body):
    formula: ItemName = Field(description="The formula's value")


class Fixed(Body):
    value: RecipeScalar


RecipeValue = Annotated[
    Annotated[FromOption, Tag("option")]
    | Annotated[FromFormula, Tag("formula")]
    | Annotated[Fixed, Tag("value")],
    Discriminator(
        _by_key("option", "formula", "value"),
        custom_error_type="invalid_recipe_value",
        custom_error_message="a recipe value is {option}, {formula} or {value}",
    ),
]


class SuperRoutingStep(Body):
    name: str = Field(min_length=1, max_length=100, examples=["lay up frame"])
    capability: Capability = Field(
        examples=["milling"], description="Some station of the plant must offer it"
    )
    setup_time_s: Seconds = 0.0
    ideal_cycle_time_s: float = Field(gt=0, le=86_400, examples=[600.0])
    when: Condition | None = Field(None, description="Selects the step; left out: always")
    recipe: dict[ItemName, RecipeValue] = Field(
        {},
        max_length=50,
        description="Desired properties of the station's machines while the step runs",
    )


# -- the definition ----------------------------------------------------------------

_CARBON: JsonDict = {"option": "frame", "in": ["carbon"]}
DEFINITION_EXAMPLE: JsonDict = {
    "name": "Custom bike",
    "description": "A frame, a colour and a size, made to order",
    "plant_id": "3f1e8a52-6c1d-4d5e-9b0a-2c7d8e9f0a1b",
    "product_id": "8c2d4e6f-1a3b-4c5d-8e9f-0a1b2c3d4e5f",
    "currency": "EUR",
    "base_price": 900.0,
    "quote_validity_s": 604800,
    "options": [
        {
            "name": "frame",
            "label": "Frame",
            "kind": "choice",
            "values": [{"value": "alu", "price": 0}, {"value": "carbon", "price": 800}],
        },
        {
            "name": "color",
            "label": "Colour",
            "kind": "choice",
            "values": [{"value": "red", "price": 0}, {"value": "black", "price": 50}],
        },
        {
            "name": "size_cm",
            "label": "Frame size",
            "kind": "number",
            "min": 48,
            "max": 62,
            "step": 2,
            "price_per_unit": 0,
        },
        {
            "name": "engraving",
            "label": "Engraving",
            "kind": "text",
            "pattern": "^[A-Z ]{0,20}$",
            "max_length": 20,
        },
    ],
    "rules": [
        {
            "name": "no-red-carbon",
            "kind": "excludes",
            "conditions": [_CARBON, {"option": "color", "in": ["red"]}],
            "message": "carbon frames are not painted red",
        },
        {"name": "carbon-sizes", "kind": "range", "if": _CARBON, "option": "size_cm", "min": 50},
    ],
    "formulas": [
        {
            "name": "weight_kg",
            "constant": 7,
            "terms": [{"option": "size_cm", "coefficient": 0.05}, {"if": _CARBON, "add": -1.5}],
        }
    ],
    "bom": [
        {"component_part_number": "FRAME-CARBON", "quantity": 1, "unit": "pcs", "when": _CARBON},
        {"component_part_number": "WHEELSET", "quantity": 1, "unit": "pcs"},
    ],
    "routing": [
        {
            "name": "mill",
            "capability": "milling",
            "setup_time_s": 60,
            "ideal_cycle_time_s": 300,
            "when": {"not": _CARBON},
        },
        {
            "name": "drill",
            "capability": "drilling",
            "ideal_cycle_time_s": 120,
            "recipe": {
                "frame": {"option": "frame"},
                "weight_kg": {"formula": "weight_kg"},
                "program": {"value": "frame-v2"},
            },
        },
    ],
}


class ProductFamilyDefinition(Body):
    """A configurable product: options, rules, formulas, prices, and the super BOM and
    super routing whose lines and steps the configuration selects."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [DEFINITION_EXAMPLE]})

    name: Name = Field(description="Unique in the tenant (409 otherwise)")
    description: str = Field("", max_length=2000)
    plant_id: str = Field(min_length=1, max_length=36, description="The plant that makes it")
    product_id: str = Field(
        min_length=1,
        max_length=36,
        description="The production product its work orders count under (OEE, yield)",
    )
    currency: str = Field(pattern="^[A-Z]{3}$", examples=["EUR"], description="ISO 4217")
    base_price: float = Field(ge=0, le=MAX_MAGNITUDE)
    quote_validity_s: int = Field(
        604_800, ge=60, le=7_776_000, description="How long a quote can be accepted"
    )
    options: list[Option] = Field([], max_length=500)
    rules: list[Rule] = Field([], max_length=2000)
    formulas: list[Formula] = Field([], max_length=200)
    price_formula: ItemName | None = Field(
        None, description="A formula whose value is added to the unit price"
    )
    bom: list[SuperBomLine] = Field([], max_length=1000)
    routing: list[SuperRoutingStep] = Field(
        min_length=1, max_length=200, description="At least one step must be selectable"
    )

    def definition_json(self) -> str:
        """The definition as servitization stores it: the fields given, nothing added
        (the configurator fills in the same defaults)."""
        return self.model_dump_json(by_alias=True, exclude_unset=True, exclude=_NOT_DEFINITION)


# Fields of the subclasses below that are not part of the definition.
_NOT_DEFINITION = {"revision", "id", "create_time", "update_time"}


class UpdateProductFamilyRequest(ProductFamilyDefinition):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{**DEFINITION_EXAMPLE, "revision": 1}]}
    )

    revision: int | None = Field(
        None,
        ge=1,
        description="The revision you last read: 409 when the family changed since; "
        "left out: no check",
    )


class ProductFamilyResponse(ProductFamilyDefinition):
    # Not the definition's example, which has no id.
    model_config = ConfigDict(json_schema_extra=None)

    id: str
    revision: int = Field(description="Rises by one with every change")
    create_time: datetime
    update_time: datetime


# -- configurations ----------------------------------------------------------------


class ConfigureRequest(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"selections": {"frame": "carbon", "size_cm": 54}}]},
    )

    selections: dict[Annotated[str, Field(max_length=64)], Selection] = Field(
        {}, max_length=500, description="The values chosen so far, by option name"
    )


class NumberRange(BaseModel):
    min: float
    max: float


class OptionDomainResponse(BaseModel):
    option: str
    selected: str | int | float | None = Field(description="The selected value; null while open")
    values: list[str | int | float] | None = Field(
        description="A choice option: the values that can still be completed to a valid "
        "product, in the definition's order; null for other options"
    )
    ranges: list[NumberRange] | None = Field(
        description="A number option: the ranges (on its step) that can still be completed, "
        "ascending; null for other options"
    )


class ConfigurationResponse(BaseModel):
    complete: bool = Field(description="Every required option is selected: a valid product")
    options: list[OptionDomainResponse] = Field(description="Every option, in definition order")
    derived: dict[str, float] = Field(description="The formulas' values once complete, else {}")
    unit_price: float | None = Field(description="Once complete; null before")
    currency: str
    family_revision: int = Field(description="The family revision it was computed against")


# -- quotes ------------------------------------------------------------------------

QuoteStateName = Literal["open", "accepted", "expired"]


class CreateQuoteRequest(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "family_id": "5b7e3c1d-2f4a-4b6c-9d8e-7f6a5b4c3d2e",
                    "selections": {"frame": "alu", "color": "red", "size_cm": 54},
                    "quantity": 1,
                    "customer_reference": "web shop order 4711",
                }
            ]
        },
    )

    family_id: str = Field(min_length=1, max_length=36)
    selections: dict[Annotated[str, Field(max_length=64)], Selection] = Field(
        max_length=500, description="A complete, valid configuration"
    )
    quantity: int = Field(1, ge=1, le=10_000)
    customer_reference: str = Field(
        "", max_length=200, description="Your reference for the customer, e.g. a shop order"
    )


class QuoteResponse(BaseModel):
    id: str
    family_id: str
    family_revision: int = Field(description="The family revision it priced")
    selections: dict[str, Any]
    derived: dict[str, float]
    quantity: int
    unit_price: float
    total_price: float = Field(description="unit_price x quantity")
    currency: str
    promised_time: datetime = Field(
        description="When the plant's what-if schedule would finish it, after its released "
        "work orders"
    )
    lead_time_s: float = Field(description="From the quote to promised_time")
    schedule_explanation: str = Field(description="Why the schedule ends it then")
    state: QuoteStateName
    expire_time: datetime = Field(description="It cannot be accepted after this")
    customer_reference: str
    create_time: datetime
    bom: list[BomLineBody] = Field(description="The lines the configuration selects")
    routing: list[RoutingStepBody] = Field(
        description="The steps the configuration selects, each with its recipe"
    )
    order_id: str = Field(description="The order made from it; empty until accepted")


# -- orders ------------------------------------------------------------------------

OrderStateName = Literal[
    "accepted", "scheduled", "in_production", "completed", "shipped", "cancelled"
]


class OrderStageResponse(BaseModel):
    state: OrderStateName
    time: datetime
    detail: str = Field(description="A cancellation's reason, a shipment's note; may be empty")


class OrderStatusResponse(BaseModel):
    """What the customer sees with the order key."""

    id: str
    family_name: str
    selections: dict[str, Any]
    quantity: int
    total_price: float
    currency: str
    state: OrderStateName
    stages: list[OrderStageResponse] = Field(description="Every state reached, oldest first")
    promised_time: datetime


class OrderResponse(OrderStatusResponse):
    quote_id: str
    family_id: str
    derived: dict[str, float]
    customer_reference: str
    work_order_id: str = Field(description="Production's work order; empty until it exists")
    plant_id: str
    create_time: datetime


class AcceptedQuoteResponse(BaseModel):
    order: OrderResponse
    order_key: str | None = Field(
        description="Give it to the customer: it opens GET /v1/order-status for this order "
        "alone. Shown only once; null when the quote was accepted before"
    )


class CancelOrderRequest(Body):
    reason: str = Field(min_length=1, max_length=500, examples=["The customer withdrew"])


class ShipOrderRequest(Body):
    detail: str = Field("", max_length=500, examples=["DHL 00340434161234567890"])


# -- genealogy ---------------------------------------------------------------------


class GenealogySignalResponse(BaseModel):
    signal: str
    count: int = Field(description="Points recorded while the operation ran")
    min: float
    max: float
    mean: float


class GenealogyEquipmentResponse(BaseModel):
    equipment_id: str
    recipe_version: int = Field(
        description="The desired-state version it acknowledged for the recipe; 0 when none"
    )
    signals: list[GenealogySignalResponse]


class GenealogyOperationResponse(BaseModel):
    sequence: int
    name: str
    station_id: str
    start_time: datetime | None
    end_time: datetime | None = Field(description="null while it runs")
    recipe: dict[str, Any] | None = Field(description="What its machines were given; null: none")
    good_quantity: float
    scrap_quantity: float
    equipment: list[GenealogyEquipmentResponse]


class GenealogyQualityRecordResponse(BaseModel):
    id: str
    sequence: int
    station_id: str
    defect_code: str
    quantity: float
    scrapped: bool
    note: str
    record_time: datetime


class GenealogyResponse(BaseModel):
    """The order's units from configuration to machines, telemetry and quality."""

    order: OrderResponse
    bom: list[BomLineBody]
    work_order_id: str
    operations: list[GenealogyOperationResponse]
    quality_records: list[GenealogyQualityRecordResponse]
