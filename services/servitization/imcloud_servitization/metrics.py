"""The command ledger's metrics, counted by both inbound adapters (gRPC and events)."""

from __future__ import annotations

from prometheus_client import Counter

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


def count_state(command: RemoteCommand) -> None:
    COMMANDS.labels(command.state.value).inc()
    if command.late:
        LATE_RESULTS.inc()
