"""Metrics counted by both inbound adapters (gRPC and events): the command ledger's,
mass customization's and the alarms'."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter

from imcloud_servitization.domain.alarms import UNCHANGED, AlarmChanged
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


# -- Webhooks and e-mail --

NOTIFICATION_DELIVERIES = Counter(
    "imcloud_notification_deliveries_total",
    "Notification deliveries by how they ended: delivered, or dead_letter (too many "
    "attempts, or the channel deleted)",
    ["outcome"],
)
NOTIFICATION_ATTEMPTS = Counter(
    "imcloud_notification_attempts_total",
    "Attempts to deliver a notification, by channel kind and result (ok or failed)",
    ["kind", "result"],
)


ALARMS = Counter(
    "imcloud_alarms_total",
    "Alarms raised, acknowledged and cleared, by severity",
    ["change", "severity"],
)
ALARM_JUDGEMENTS = Counter(
    "imcloud_alarm_judgements_total",
    "Telemetry batches and machine news judged against the alarm rules of their tenant",
)


def count_alarms(changes: Iterable[AlarmChanged]) -> None:
    for change in changes:
        if change.change != UNCHANGED:
            ALARMS.labels(change.change, change.alarm.severity.value).inc()
