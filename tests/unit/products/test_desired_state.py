"""The desired side of a twin: merge patches, versions, limits and the delta."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from imcloud_core.errors import FailedPrecondition, InvalidArgument
from imcloud_core.nesting import MAX_NESTING
from imcloud_products.domain.desired import (
    MAX_DESIRED_BYTES,
    MAX_PROPERTIES,
    DesiredState,
    PropertyDelta,
    apply_patch,
    delta_of,
    merge_patch,
    parse_patch,
    record_applied,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def patched(state: DesiredState, patch: dict[str, Any], version: int | None = None) -> DesiredState:
    changed = apply_patch(state, patch, version=version, actor="key:ops", now=NOW)
    assert changed is not None
    return changed


def fresh() -> DesiredState:
    return DesiredState("tenant", "mill")


def test_a_merge_patch_sets_merges_and_removes_properties() -> None:
    state = patched(fresh(), {"feed_override": 90, "mode": "eco", "limits": {"rpm": 8000}})
    state = patched(state, {"mode": None, "limits": {"torque": 40}, "coolant": True}, version=1)
    assert state.properties == {
        "feed_override": 90,
        "limits": {"rpm": 8000, "torque": 40},
        "coolant": True,
    }
    assert state.version == 2
    assert (state.update_actor, state.update_time) == ("key:ops", NOW)


def test_merge_patch_follows_rfc_7386() -> None:
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_integers_stay_integers() -> None:
    state = patched(fresh(), parse_patch('{"steps": 3, "ratio": 0.5}'))
    assert json.dumps(state.properties) == '{"steps": 3, "ratio": 0.5}'


def test_a_stale_version_is_refused_naming_the_current_one() -> None:
    state = patched(patched(fresh(), {"a": 1}), {"a": 2}, version=1)
    with pytest.raises(FailedPrecondition, match="at version 2"):
        apply_patch(state, {"a": 3}, version=1, actor="key:late", now=NOW)
    assert patched(state, {"a": 3}, version=2).version == 3


def test_a_patch_that_changes_nothing_keeps_the_version() -> None:
    state = patched(fresh(), {"a": 1})
    assert apply_patch(state, {"a": 1, "gone": None}, version=None, actor="k", now=NOW) is None
    assert apply_patch(state, {}, version=1, actor="k", now=NOW) is None


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("[1, 2]", "desired"),
        ("not json", "desired"),
        ('{"a": NaN}', "desired"),
        ('{"a": Infinity}', "desired"),
        ("[" * 100_000, "desired"),
    ],
)
def test_a_patch_must_be_a_json_object_of_finite_numbers(document: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_patch(document)
    assert [v.field for v in refused.value.violations] == [field]


def test_limits_of_the_properties() -> None:
    too_deep: Any = 1
    for _ in range(MAX_NESTING + 1):
        too_deep = [too_deep]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"1st": 1}, "desired.1st"),
        ({"": 1}, "desired."),
        ({"a b": 1}, "desired.a b"),
        ({f"p{i}": i for i in range(MAX_PROPERTIES + 1)}, "desired"),
        ({"blob": "x" * MAX_DESIRED_BYTES}, "desired"),
        ({"deep": too_deep}, "desired"),
    ]
    for patch, field in cases:
        with pytest.raises(InvalidArgument) as refused:
            apply_patch(fresh(), patch, version=None, actor="k", now=NOW)
        assert field in [v.field for v in refused.value.violations], patch.keys()
    with pytest.raises(InvalidArgument):
        parse_patch(json.dumps({"deep": too_deep}))


def test_the_applied_version_only_rises_and_cannot_pass_the_desired_one() -> None:
    state = patched(patched(fresh(), {"a": 1}), {"a": 2})
    applied = record_applied(state, version=2, detail="", now=NOW)
    assert applied is not None
    assert applied.applied_version == 2
    assert record_applied(applied, version=1, detail="late", now=NOW) is None
    assert record_applied(applied, version=2, detail="repeat", now=NOW) is None
    with pytest.raises(FailedPrecondition, match="at version 2"):
        record_applied(applied, version=3, detail="", now=NOW)


def test_the_delta_lists_what_the_machine_does_not_run_yet() -> None:
    state = patched(fresh(), {"mode": "eco", "spindle_speed": 8000, "coolant": True})
    # Nothing applied: every property, with the reported signal value where there is one.
    assert delta_of(state, {"spindle_speed": 7990.0, "coolant": 1.0}) == [
        PropertyDelta("mode", "eco", None),
        PropertyDelta("spindle_speed", 8000, 7990.0),
    ]
    applied = record_applied(state, version=1, detail="", now=NOW)
    assert applied is not None
    # Applied: a property named like a signal still waits for the machine to reach it.
    assert delta_of(applied, {"spindle_speed": 7990.0}) == [
        PropertyDelta("spindle_speed", 8000, 7990.0)
    ]
    assert delta_of(applied, {"spindle_speed": 8000.0}) == []
    # A later change of one property leaves the others applied.
    changed = patched(applied, {"mode": "turbo"})
    assert delta_of(changed, {"spindle_speed": 8000.0}) == [PropertyDelta("mode", "turbo", None)]


def test_an_integer_beyond_any_double_is_never_reached() -> None:
    huge = 10**400
    state = patched(fresh(), {"spindle_speed": huge})
    assert delta_of(state, {"spindle_speed": 1.0}) == [PropertyDelta("spindle_speed", huge, 1.0)]
