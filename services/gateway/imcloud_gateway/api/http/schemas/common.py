"""What every request and response body shares: strictness, pages, errors."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

Name = Annotated[str, Field(min_length=1, max_length=200, examples=["Plant Augsburg"])]


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
