"""How deeply JSON-like values nest: free-form documents (command parameters,
desired state) are limited in depth before they reach protobuf, whose parsers
refuse messages nested about fifty levels deep."""

from __future__ import annotations

from typing import Any

# Objects and lists inside each other that any document of the platform may hold.
MAX_NESTING = 8


def nesting_depth(value: Any) -> int:
    """How many objects and lists nest in ``value`` (a scalar: 0)."""
    if isinstance(value, dict):
        return 1 + max(map(nesting_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(nesting_depth, value), default=0)
    return 0
