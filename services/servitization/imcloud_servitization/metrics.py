"""Metrics counted by both inbound adapters (gRPC and events): the command ledger's
and mass customization's."""

from __future__ import annotations

from prometheus_client import Counter

from imcloud_servitization.domain.customization import CustomerOrder
from imcloud_servitization.domain.model import RemoteCommand

COMMANDS = Counter("imcloud_commands_total", "Remote commands by the state they reached", ["state"])
REPLAYS = Counter(
    "imcloud_servitization_command_replays_total",
    "Command submissions whose idempotency key named an earlier command (nothing new sent)",
)
LATE_RESULTS = Counter(
    "imcloud_servitization_command_late_results_total",
    "Machines' answers that came after their command had expired or been cancelled (kept)",
)
RESENDS = Counter(
    "imcloud_servitization_command_resends_total",
    "Commands sent again because the machine's receipt was missing",
)


CONFIGURATIONS = Counter(
    "imcloud_servitization_configurations_total",
    "Configurations asked for, by outcome: open, complete, or the refusal's code",
    ["outcome"],
)
QUOTES = Counter("imcloud_servitization_quotes_total", "Quotes made for configured products")
ORDERS = Counter(
    "imcloud_servitization_orders_total", "Customer orders by the state they reached", ["state"]
)


def count_order(order: CustomerOrder) -> None:
    ORDERS.labels(order.state.value).inc()


def count_state(command: RemoteCommand) -> None:
    COMMANDS.labels(command.state.value).inc()
    if command.late:
        LATE_RESULTS.inc()
