"""The module registry: what a process can run, and what each part needs first.

Like Grafana Mimir's targets: `imcloud up` runs the `all` target in one process,
`imcloud serve products` runs one service; dependencies start first and stop last.
This is the one place that knows every service: it hands each its own section of
the process settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imcloud_core.bus import EventBus
from imcloud_core.bus.delivery import dead_letter_topic
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.bus.memory import InMemoryBus
from imcloud_core.events import Topic
from imcloud_core.service import Component, Runtime, ServiceDefinition
from imcloud_core.settings import BusBackend
from imcloud_platform.settings import Settings

SERVICES: dict[str, ServiceDefinition] = {
    name: ServiceDefinition(name=name, package=f"imcloud_{name}")
    for name in ("gateway", "products", "production", "servitization")
}
ALL = "all"


@dataclass(frozen=True)
class Module:
    deps: tuple[str, ...]
    # None for targets that only group other modules.
    build: Callable[[Runtime], Component] | None = None


class BusModule:
    """Opens the process's event bus and makes sure imcloud's topics exist."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.bus: EventBus = (
            KafkaBus(settings.kafka)
            if settings.bus is BusBackend.KAFKA
            else InMemoryBus(
                partitions=settings.kafka.topic_partitions,
                max_poll_records=settings.kafka.max_poll_records,
            )
        )
        runtime.bus = self.bus

    def start(self) -> None:
        self.bus.ensure_topics([*Topic, *(dead_letter_topic(topic) for topic in Topic)])

    def stop(self) -> None:
        self.bus.close()


def modules(settings: Settings) -> dict[str, Module]:
    """Every module a process can run, each built with its own settings."""
    return {
        "bus": Module(deps=(), build=BusModule),
        "gateway": Module(deps=("bus",), build=_gateway(settings)),
        "products": Module(deps=("bus",), build=_products(settings)),
        "production": Module(deps=("bus",), build=_production(settings)),
        "servitization": Module(deps=("bus",), build=_servitization(settings)),
        # Services first, so the gateway finds them ready when it starts taking requests.
        ALL: Module(deps=("products", "production", "servitization", "gateway")),
    }


# A service's code is imported only by a process that runs it: the gateway's alone costs
# 2.5 s of CPU to import, which `imcloud serve products` has no need to pay.
def _gateway(settings: Settings) -> Callable[[Runtime], Component]:
    def build(runtime: Runtime) -> Component:
        from imcloud_gateway import module as gateway

        return gateway.build(runtime, settings.gateway, settings.provisioning)

    return build


def _products(settings: Settings) -> Callable[[Runtime], Component]:
    def build(runtime: Runtime) -> Component:
        from imcloud_products import module as products

        return products.build(runtime, settings.telemetry)

    return build


def _production(settings: Settings) -> Callable[[Runtime], Component]:
    def build(runtime: Runtime) -> Component:
        from imcloud_production import module as production

        return production.build(runtime, settings.scheduling)

    return build


def _servitization(settings: Settings) -> Callable[[Runtime], Component]:
    def build(runtime: Runtime) -> Component:
        from imcloud_servitization import module as servitization

        return servitization.build(runtime, settings.notifications)

    return build


def start_order(registry: dict[str, Module], target: str) -> list[str]:
    """The modules ``target`` needs, each after its dependencies."""
    if target not in registry:
        raise KeyError(f"unknown module {target!r}; choose one of {', '.join(registry)}")
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise ValueError(f"the modules depend on each other in a cycle: {cycle}")
        visiting.append(name)
        for dep in registry[name].deps:
            if dep not in registry:
                raise KeyError(f"module {name!r} needs {dep!r}, which is not registered")
            visit(dep)
        visiting.pop()
        order.append(name)

    visit(target)
    return order
