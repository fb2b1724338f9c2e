"""Bodies of the product, work order and quality record routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from imcloud_core.nesting import MAX_NESTING, nesting_depth
from imcloud_gateway.api.http.schemas.common import Body
from imcloud_gateway.api.http.schemas.production import Capability, Instant, PartNumber

Seconds = Annotated[float, Field(ge=0, le=86_400)]
Unit = Annotated[str, Field(min_length=1, max_length=20, examples=["pcs"])]
Quantity = Annotated[float, Field(gt=0, le=1e9)]
Count = Annotated[float, Field(ge=0, le=1e9)]
ResourceId = Annotated[str, Field(min_length=1, max_length=36)]
# A routing's operations are numbered from 1; a routing has at most 50.
MAX_SEQUENCE = 50
# A recipe becomes machines' desired state: the products service's size limit.
MAX_RECIPE_BYTES = 16_384

# -- products ----------------------------------------------------------------------


class RoutingStepBody(Body):
    name: str = Field(min_length=1, max_length=100, examples=["mill housing"])
    capability: Capability = Field(
        examples=["milling"], description="Some station of the tenant must offer it"
    )
    setup_time_s: Seconds = Field(0.0, examples=[600.0])
    ideal_cycle_time_s: float = Field(
        gt=0,
        le=86_400,
        examples=[45.0],
        description="Ideal seconds per unit; a station's own figure for the product wins",
    )
    recipe: dict[str, Any] | None = Field(
        None,
        examples=[{"spindle_rpm": 8000, "coolant": "on"}],
        description="Desired properties (a JSON merge patch, as for a machine's desired "
        "state) given to every machine at the station when the operation starts; the "
        "operation runs once each machine applied them. Null: none.",
    )

    @field_validator("recipe")
    @classmethod
    def _a_desired_state_patch(cls, recipe: dict[str, Any] | None) -> dict[str, Any] | None:
        if recipe is None:
            return None
        if nesting_depth(recipe) > MAX_NESTING:
            raise ValueError(f"at most {MAX_NESTING} levels of nested objects and lists")
        try:
            size = len(json.dumps(recipe, allow_nan=False).encode())
        except ValueError:
            raise ValueError("numbers must be finite") from None
        if size > MAX_RECIPE_BYTES:
            raise ValueError(f"at most {MAX_RECIPE_BYTES} bytes as JSON")
        return recipe

    def recipe_json(self) -> str:
        return json.dumps(self.recipe) if self.recipe else ""


class BomLineBody(Body):
    component_part_number: PartNumber = Field(examples=["AL-BILLET-80"])
    quantity: Quantity = Field(examples=[1.0], description="Per unit of the product")
    unit: Unit


class CreateProductRequest(Body):
    part_number: PartNumber = Field(
        examples=["HSG-100"], description="Unique within the tenant (409 otherwise)"
    )
    name: str = Field("", max_length=200, examples=["Gearbox housing"])
    unit: Unit = "pcs"
    routing: list[RoutingStepBody] = Field(
        min_length=1,
        max_length=MAX_SEQUENCE,
        description="The operations, in order",
        examples=[
            [
                {
                    "name": "mill housing",
                    "capability": "milling",
                    "setup_time_s": 600.0,
                    "ideal_cycle_time_s": 45.0,
                },
                {"name": "drill flange", "capability": "drilling", "ideal_cycle_time_s": 20.0},
            ]
        ],
    )
    bom: list[BomLineBody] = Field(
        [],
        max_length=500,
        description="Components of one unit",
        examples=[[{"component_part_number": "AL-BILLET-80", "quantity": 1.0, "unit": "pcs"}]],
    )


class ProductResponse(BaseModel):
    id: str
    part_number: str
    name: str
    unit: str
    routing: list[RoutingStepBody]
    bom: list[BomLineBody]
    create_time: datetime
    first_pass_yield: float | None = Field(
        description="Over all its work orders: per routing step good / (good + scrap), "
        "multiplied over the steps; null before any unit is counted"
    )


# -- work orders -------------------------------------------------------------------

WorkOrderStateName = Literal["planned", "released", "running", "completed", "cancelled"]
OperationStateName = Literal["pending", "starting", "running", "done"]


class CreateWorkOrderRequest(Body):
    product_id: ResourceId
    plant_id: ResourceId = Field(description="The plant that makes it")
    quantity: Quantity = Field(examples=[120.0], description="Good units to make")
    due_time: Instant = Field(
        examples=[(datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()]
    )
    priority: int = Field(0, ge=0, le=1000, description="Higher goes first")
    note: str = Field("", max_length=2000, examples=["Customer order 4711"])


class CancelWorkOrderRequest(Body):
    reason: str = Field(min_length=1, max_length=500, examples=["Customer withdrew the order"])


class StartOperationRequest(Body):
    station_id: ResourceId = Field(
        description="A station of the order's plant offering the operation's capability"
    )


class ReportCountsRequest(Body):
    """An operation's totals so far, for stations whose machines do not count."""

    good_quantity: Count = Field(examples=[40.0], description="Never less than before")
    scrap_quantity: Count = Field(examples=[2.0], description="Never less than before")


class RecipeDeliveryResponse(BaseModel):
    equipment_id: str
    desired_version: int = Field(description="The machine's desired version holding the recipe")
    applied_time: datetime | None = Field(description="When the machine applied it; null: waiting")


class OperationResponse(BaseModel):
    sequence: int
    name: str
    capability: str
    setup_time_s: float
    ideal_cycle_time_s: float
    station_id: str = Field(description="Where it runs; empty until it starts")
    state: OperationStateName = Field(
        description="starting: at its station, waiting for the station's machines to apply "
        "its recipe (counts do not go to it yet)"
    )
    good_quantity: float
    scrap_quantity: float
    start_time: datetime | None = Field(
        description="When it began to run (with a recipe: when the last machine applied it)"
    )
    end_time: datetime | None
    recipe: dict[str, Any] | None = Field(
        description="What the station's machines are given when it starts; null: none"
    )
    recipe_deliveries: list[RecipeDeliveryResponse] = Field(
        description="Per machine of the station, once it started: the recipe's desired "
        "version and when the machine applied it"
    )


class WorkOrderResponse(BaseModel):
    id: str
    product_id: str
    part_number: str
    plant_id: str
    quantity: float
    due_time: datetime
    priority: int
    state: WorkOrderStateName
    cancel_reason: str
    note: str
    customer_order_id: str = Field(
        description="The customer order (mass customization) it makes; empty for others"
    )
    bom: list[BomLineBody] = Field(
        description="Its own components per unit (a customized product's); empty: the product's"
    )
    routing: list[RoutingStepBody] = Field(
        description="Its own routing (a customized product's); empty: the product's"
    )
    operations: list[OperationResponse] = Field(
        description="The routing as copied at release; empty while planned"
    )
    good_quantity: float = Field(description="Good units out of the last operation")
    scrap_quantity: float = Field(description="Units scrapped at any operation")
    first_pass_yield: float | None = Field(
        description="The product of the operations' good / (good + scrap); null before "
        "any unit is counted"
    )
    create_time: datetime
    release_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None = Field(description="When it was completed or cancelled")


# -- quality records ---------------------------------------------------------------


class RecordQualityRequest(Body):
    work_order_id: ResourceId
    sequence: int = Field(ge=1, le=MAX_SEQUENCE, examples=[1], description="The operation")
    defect_code: str = Field(min_length=1, max_length=50, examples=["burr"])
    quantity: Quantity = Field(examples=[2.0], description="Units affected")
    scrapped: bool = Field(False, description="Scrapped, else reworked or accepted")
    note: str = Field("", max_length=500, examples=["Burr on the bearing seat"])


class QualityRecordResponse(BaseModel):
    id: str
    work_order_id: str
    sequence: int
    station_id: str = Field(description="The station of the operation")
    defect_code: str
    quantity: float
    scrapped: bool
    note: str
    record_time: datetime
