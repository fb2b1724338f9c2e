"""Page sizes and opaque page tokens shared by every list call."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from imcloud_core.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

T = TypeVar("T")


def page_size(
    requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> int:
    if requested < 0 or requested > maximum:
        raise InvalidArgument(
            f"page_size must be between 1 and {maximum}",
            violations=(FieldViolation("page_size", f"must be 1..{maximum}"),),
        )
    return requested or default


def encode_page_token(position: dict[str, Any]) -> str:
    """An opaque cursor that resumes a keyset-paginated listing after ``position``."""
    return base64.urlsafe_b64encode(json.dumps(position, default=str).encode()).decode()


def decode_page_token(token: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = None
    if not isinstance(position, dict):
        raise InvalidArgument(
            "page_token is not one this service issued",
            violations=(FieldViolation("page_token", "not a valid page token"),),
        )
    return position


def every_page(fetch: Callable[[str], tuple[list[T], str]]) -> list[T]:
    """Everything a listing holds: ``fetch`` takes a page token and returns one
    page and the next token, empty after the last page."""
    found: list[T] = []
    token = ""
    while True:
        page, token = fetch(token)
        found += page
        if not token:
            return found
