"""The desired side of a machine's twin: the properties people (or an equipment
maker) want the machine to run with, changed by JSON merge patches (RFC 7386)
under a version that rises with every change, and the version the machine
reports it applied.

What counts as reported for a desired property: for a property named like a
signal the machine reports, the signal's latest value (a setpoint is reached
when the machine measures it); for any other property, the machine's applied
version (the property is applied once the machine applied a version at least
as new as the change that last set it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from imcloud_core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from imcloud_core.nesting import MAX_NESTING, nesting_depth
from imcloud_products.domain.model import SIGNAL_NAME

MAX_PROPERTIES = 256
MAX_DESIRED_BYTES = 16_384
MAX_DETAIL_CHARS = 1000
FIELD = "desired"


@dataclass(frozen=True)
class DesiredState:
    tenant_id: str
    equipment_id: str
    properties: dict[str, Any] = field(default_factory=dict)
    # The version whose change last set each property, by name.
    property_versions: dict[str, int] = field(default_factory=dict)
    version: int = 0
    update_actor: str = ""
    update_time: datetime | None = None
    applied_version: int = 0
    applied_detail: str = ""
    applied_time: datetime | None = None


@dataclass(frozen=True)
class PropertyDelta:
    """A desired property the machine does not run yet."""

    name: str
    desired: Any
    # The latest value of the signal of the same name, if the machine reports one.
    reported: float | None


def parse_patch(desired_json: str) -> dict[str, Any]:
    """The merge patch as an object; refused unless it is a JSON object of finite
    numbers, within the nesting limit."""
    try:
        patch = json.loads(desired_json, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise _invalid(FIELD, f"must be a JSON object: {error}") from None
    if not isinstance(patch, dict):
        raise _invalid(FIELD, "must be a JSON object of properties")
    if nesting_depth(patch) > MAX_NESTING:
        raise _invalid(FIELD, f"at most {MAX_NESTING} levels of nested objects and lists")
    return patch


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: an object merges member by member (null removes the member);
    anything else replaces the target."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def apply_patch(
    state: DesiredState,
    patch: dict[str, Any],
    *,
    version: int | None,
    actor: str,
    now: datetime,
) -> DesiredState | None:
    """The desired state after ``patch``, one version on; None when the patch
    changes nothing. ``version`` is the one the caller read (None: no check)."""
    if version is not None and version != state.version:
        raise FailedPrecondition(
            f"the desired state is at version {state.version}, not {version}: "
            "read the twin again and reapply your change",
            violations=(FieldViolation("version", f"the current version is {state.version}"),),
        )
    properties = merge_patch(state.properties, patch)
    check_properties(properties)
    if properties == state.properties:
        return None
    changed = {name for name in patch if properties.get(name) != state.properties.get(name)}
    new_version = state.version + 1
    return replace(
        state,
        properties=properties,
        property_versions={
            name: new_version if name in changed else state.property_versions.get(name, new_version)
            for name in properties
        },
        version=new_version,
        update_actor=actor,
        update_time=now,
    )


def check_properties(properties: dict[str, Any]) -> None:
    violations = [
        FieldViolation(
            f"{FIELD}.{name[:64]}",
            "a property name starts with a letter and uses only letters, digits, '_', '.', "
            "'-' (at most 64 characters)",
        )
        for name in properties
        if not SIGNAL_NAME.match(name)
    ][:10]
    if len(properties) > MAX_PROPERTIES:
        violations.append(FieldViolation(FIELD, f"at most {MAX_PROPERTIES} properties"))
    if nesting_depth(properties) > MAX_NESTING:
        violations.append(
            FieldViolation(FIELD, f"at most {MAX_NESTING} levels of nested objects and lists")
        )
    elif len(json.dumps(properties)) > MAX_DESIRED_BYTES:
        violations.append(FieldViolation(FIELD, f"at most {MAX_DESIRED_BYTES} bytes as JSON"))
    if violations:
        raise InvalidArgument("the desired state is not valid", violations=tuple(violations))


def record_applied(
    state: DesiredState, *, version: int, detail: str, now: datetime
) -> DesiredState | None:
    """The state once the machine reported ``version`` applied; None when an
    equal or newer version was reported before (a repeat, or a late report)."""
    if version < 0 or version > state.version:
        raise FailedPrecondition(
            f"the desired state is at version {state.version}; "
            f"version {version} cannot have been applied",
            violations=(FieldViolation("version", f"must be 0..{state.version}"),),
        )
    if version <= state.applied_version:
        return None
    return replace(
        state,
        applied_version=version,
        applied_detail=detail[:MAX_DETAIL_CHARS],
        applied_time=now,
    )


def delta_of(state: DesiredState, reported: Mapping[str, float]) -> list[PropertyDelta]:
    """The desired properties the machine does not run yet, by name (see the
    module's note on what counts as reported)."""
    pending = []
    for name, wanted in sorted(state.properties.items()):
        value = reported.get(name)
        if value is not None and _is_number(wanted):
            if not _equal(wanted, value):
                pending.append(PropertyDelta(name, wanted, value))
        elif state.applied_version < state.property_versions.get(name, state.version):
            pending.append(PropertyDelta(name, wanted, value))
    return pending


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)  # booleans too: signals report them as 0 or 1


def _equal(wanted: float, reported: float) -> bool:
    try:
        return float(wanted) == reported
    except OverflowError:  # an integer beyond any double: no signal reports it
        return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _invalid(path: str, reason: str) -> InvalidArgument:
    return InvalidArgument(
        "the desired state is not valid", violations=(FieldViolation(path, reason),)
    )
