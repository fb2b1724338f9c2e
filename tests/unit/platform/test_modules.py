"""The module graph of `imcloud up` / `imcloud serve` (like Mimir's modules_test.go)."""

from __future__ import annotations

import pytest

from imcloud_platform.modules import ALL, SERVICES, Module, modules, start_order
from imcloud_platform.settings import Settings

REGISTRY = modules(Settings())


def test_every_module_starts_after_its_dependencies() -> None:
    for target in REGISTRY:
        order = start_order(REGISTRY, target)
        assert order[-1] == target
        assert len(order) == len(set(order)), f"{target} starts a module twice: {order}"
        for position, name in enumerate(order):
            for dep in REGISTRY[name].deps:
                assert order.index(dep) < position, f"{name} starts before {dep} in {order}"


def test_all_runs_every_module_with_the_bus_first_and_the_gateway_last() -> None:
    order = start_order(REGISTRY, ALL)
    assert set(order) == set(REGISTRY)
    assert order[0] == "bus"
    # The gateway takes requests for the other services: they must be up already.
    assert order.index("gateway") > max(order.index(name) for name in SERVICES if name != "gateway")


def test_one_service_runs_with_only_what_it_needs() -> None:
    for name in SERVICES:
        assert start_order(REGISTRY, name) == ["bus", name]


def test_every_service_is_a_module_that_builds_something() -> None:
    for name in SERVICES:
        assert REGISTRY[name].build is not None
    assert REGISTRY[ALL].build is None  # a target that only groups the others


def test_an_unknown_target_is_refused_with_the_choices() -> None:
    with pytest.raises(KeyError, match="unknown module 'ingester'; choose one of bus, gateway"):
        start_order(REGISTRY, "ingester")


def test_a_cycle_is_refused_naming_it() -> None:
    looping = {
        "a": Module(deps=("b",)),
        "b": Module(deps=("c",)),
        "c": Module(deps=("a",)),
    }
    with pytest.raises(ValueError, match="cycle: a -> b -> c -> a"):
        start_order(looping, "a")


def test_a_dependency_that_is_not_registered_is_refused() -> None:
    with pytest.raises(KeyError, match="module 'a' needs 'missing'"):
        start_order({"a": Module(deps=("missing",))}, "a")
