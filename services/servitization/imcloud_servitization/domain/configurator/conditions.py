"""Conditions evaluated on a complete configuration, and told in words."""

from __future__ import annotations

from collections.abc import Mapping

from imcloud_servitization.domain.configurator.definition import (
    AllOf,
    AnyOf,
    ChoiceOption,
    Condition,
    InRange,
    Not,
    NumberOption,
    OptionValue,
    ValueIn,
    value_key,
)

Options = Mapping[str, ChoiceOption | NumberOption]


def in_bounds(option: NumberOption, value: float, low: float | None, high: float | None) -> bool:
    """Whether a value of the option lies in low..high, compared on the option's grid as the
    solver compares it (so 0.1 + 0.2 is not above 0.3)."""
    index = option.index_of(value)
    if index is None:
        return False
    if low is not None and index < option.first_index_from(low):
        return False
    return high is None or index <= option.last_index_to(high)


def holds(condition: Condition, values: Mapping[str, OptionValue], options: Options) -> bool:
    """Whether the condition holds for a configuration giving every option it names a value."""
    match condition:
        case ValueIn(option, listed):
            return value_key(values[option]) in {value_key(value) for value in listed}
        case InRange(option, low, high):
            number_option = options[option]
            assert isinstance(number_option, NumberOption)
            return in_bounds(number_option, float(values[option]), low, high)
        case AllOf(children):
            return all(holds(child, values, options) for child in children)
        case AnyOf(children):
            return any(holds(child, values, options) for child in children)
        case Not(child):
            return not holds(child, values, options)
    raise AssertionError(condition)


def describe(condition: Condition) -> str:
    """The condition as a person reads it: "frame is carbon", "size is 48 to 52"."""
    match condition:
        case ValueIn(option, (value,)):
            return f"{option} is {_show(value)}"
        case ValueIn(option, listed):
            return f"{option} is one of {', '.join(_show(value) for value in listed)}"
        case InRange(option, None, high):
            return f"{option} is at most {high:g}"
        case InRange(option, low, None):
            return f"{option} is at least {low:g}"
        case InRange(option, low, high):
            return f"{option} is {low:g} to {high:g}"
        case AllOf((child,)) | AnyOf((child,)):
            return describe(child)
        case AllOf(children):
            return "(" + " and ".join(describe(child) for child in children) + ")"
        case AnyOf(children):
            return "(" + " or ".join(describe(child) for child in children) + ")"
        case Not(child):
            return f"not {describe(child)}"
    raise AssertionError(condition)


def _show(value: OptionValue) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
