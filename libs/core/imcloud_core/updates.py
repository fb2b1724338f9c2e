"""Partial updates (AIP-134): which fields a request asks to change."""

from __future__ import annotations

from collections.abc import Iterable

from imcloud_core.errors import FieldViolation, InvalidArgument


def checked_update_paths(paths: Iterable[str], *, allowed: frozenset[str]) -> frozenset[str]:
    """The requested paths, refused when empty or naming a field that cannot change."""
    requested = frozenset(paths)
    if not requested:
        raise InvalidArgument(
            "nothing to update",
            violations=(FieldViolation("update_mask", "name at least one field to change"),),
        )
    unknown = sorted(requested - allowed)
    if unknown:
        raise InvalidArgument(
            "the update names fields that cannot be changed",
            violations=tuple(
                FieldViolation("update_mask", f"{path!r} is not one of {sorted(allowed)}")
                for path in unknown
            ),
        )
    return requested
