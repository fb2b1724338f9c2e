"""What every request and response body shares: strictness, pages, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import BaseModel, ConfigDict, Field

from imcloud_core.errors import FieldViolation, InvalidArgument

T = TypeVar("T")

# Examples a reader can send as they are (Swagger UI's "Try it out"): times are
# taken when the document is built, so they are inside what the API accepts.
EXAMPLE_FUTURE_TIME = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0).isoformat()
EXAMPLE_NOW_MS = int(time.time()) * 1000

# Each use gives its own example: one shared example would name everything alike.
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Body(BaseModel):
    # Unknown fields are refused, so a typo is an error instead of a silent no-op.
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_page_token: str = Field(
        "", description="Pass as page_token to get the next page; empty on the last page."
    )


class ErrorDetail(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. signals[0].name")
    reason: str


class Error(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str
    request_id: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: Error


def _partial_update(schema: dict[str, Any]) -> None:
    # What update_mask refuses, the document does not offer: an empty update, and
    # null for a field (it is left out instead), so each field shows its type alone.
    schema["minProperties"] = 1
    for name, field in schema.get("properties", {}).items():
        options = [o for o in field.pop("anyOf", []) if o.get("type") != "null"]
        field.pop("default", None)
        if len(options) == 1:
            schema["properties"][name] = {**options[0], **field}
        elif options:
            field["anyOf"] = options


class PatchBody(Body):
    """A partial update: only the fields present in the JSON body change."""

    model_config = ConfigDict(json_schema_extra=_partial_update)

    def update_mask(self) -> FieldMask:
        if not self.model_fields_set:
            raise InvalidArgument(
                "nothing to update",
                violations=(FieldViolation("body", "send at least one field to change"),),
            )
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise InvalidArgument(
                "fields cannot be set to null",
                violations=tuple(FieldViolation(name, "must not be null") for name in nulls),
            )
        return FieldMask(paths=sorted(self.model_fields_set))
