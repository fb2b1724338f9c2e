"""The command ledger's rules that need no store: resend backoff, and parameters
as JSON whose integers stay integers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from imcloud_core.errors import InvalidArgument
from imcloud_servitization.convert import parameters_from
from imcloud_servitization.domain.commands import MAX_PARAMETERS_BYTES, resend_delay


def test_resends_back_off_doubling_up_to_a_minute() -> None:
    delays = [resend_delay(attempts).total_seconds() for attempts in range(1, 9)]
    assert delays == [5, 10, 20, 40, 60, 60, 60, 60]
    assert resend_delay(10_000) == timedelta(seconds=60)


def test_parameters_keep_integers_and_floats_apart() -> None:
    parameters = parameters_from('{"steps": 3, "rpm": 1200.5, "plan": {"passes": [1, 2.0]}}')
    assert parameters == {"steps": 3, "rpm": 1200.5, "plan": {"passes": [1, 2.0]}}
    assert type(parameters["steps"]) is int
    assert type(parameters["plan"]["passes"][1]) is float
    assert parameters_from("") == {}


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2]",
        '{"rpm": NaN}',
        '{"rpm": ',
        "[" * 5000 + "]" * 5000,
        '{"x": "' + "a" * MAX_PARAMETERS_BYTES + '"}',
    ],
    ids=["not an object", "NaN", "truncated", "nested past the parser", "too large"],
)
def test_parameters_that_are_no_json_object_are_refused_by_field(text: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parameters_from(text)
    assert [v.field for v in refused.value.violations] == ["parameters"]
