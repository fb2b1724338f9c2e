"""The module registry: what a process can run, and what each part needs first.

Like Grafana Mimir's targets: `imcloud up` runs the `all` target in one process,
`imcloud serve products` runs one service; dependencies start first and stop last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imcloud_core.bus import EventBus
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.bus.memory import InMemoryBus
from imcloud_core.events import Topic
from imcloud_core.service import Component, Runtime, ServiceDefinition
from imcloud_core.settings import BusBackend
from imcloud_gateway.module import SERVICE as GATEWAY
from imcloud_production.module import SERVICE as PRODUCTION
from imcloud_products.module import SERVICE as PRODUCTS
from imcloud_servitization.module import SERVICE as SERVITIZATION

SERVICES: dict[str, ServiceDefinition] = {
    s.name: s for s in (GATEWAY, PRODUCTS, PRODUCTION, SERVITIZATION)
}


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
        self.bus.ensure_topics(list(Topic))

    def stop(self) -> None:
        self.bus.close()


MODULES: dict[str, Module] = {
    "bus": Module(deps=(), build=BusModule),
    **{name: Module(deps=("bus",), build=s.build) for name, s in SERVICES.items()},
    # Services first, so the gateway finds them ready when it starts taking requests.
    "all": Module(deps=("products", "production", "servitization", "gateway")),
}


def start_order(target: str) -> list[str]:
    """The modules ``target`` needs, each after its dependencies."""
    if target not in MODULES:
        raise KeyError(f"unknown module {target!r}; choose one of {', '.join(MODULES)}")
    order: list[str] = []

    def visit(name: str) -> None:
        for dep in MODULES[name].deps:
            visit(dep)
        if name not in order:
            order.append(name)

    visit(target)
    return order
