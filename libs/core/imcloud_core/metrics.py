"""Prometheus metrics shared by every service (``imcloud_`` prefix, base units).

Service-specific metrics live next to the code that counts them; the ones here
are counted by the shared machinery (bus, gRPC, errors) the same way everywhere.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

BUS_PUBLISHED = Counter(
    "imcloud_bus_published_records_total", "Records made durable on the event bus", ["topic"]
)
BUS_HANDLED = Counter(
    "imcloud_bus_handled_records_total",
    "Records handled and committed by a consumer group",
    ["topic", "group"],
)
BUS_HANDLER_FAILURES = Counter(
    "imcloud_bus_handler_failures_total",
    "Handler calls that raised; their records are delivered again",
    ["group"],
)
BUS_DEAD_LETTERS = Counter(
    "imcloud_bus_dead_lettered_records_total",
    "Records a consumer group could not handle, set aside on <topic>.dlq with the reason",
    ["topic", "group"],
)
BUS_HANDLER_SECONDS = Histogram(
    "imcloud_bus_handler_duration_seconds", "Time to handle one polled batch", ["group"]
)
BUS_CONSUMER_LAG = Gauge(
    "imcloud_bus_consumer_lag_records",
    "Records published but not yet handled by the group, per partition",
    ["topic", "group", "partition"],
)

GRPC_SERVER_HANDLED = Counter(
    "imcloud_grpc_server_handled_total",
    "gRPC calls completed by a server, by status code",
    ["service", "method", "code"],
)
GRPC_SERVER_SECONDS = Histogram(
    "imcloud_grpc_server_handling_seconds",
    "Time a server spent on a gRPC call",
    ["service", "method"],
)

ERRORS = Counter(
    "imcloud_errors_total",
    "Requests refused or failed, by where they were refused and the error code",
    ["edge", "code"],
)


def serve_metrics(port: int, host: str) -> None:
    """Serves /metrics on a port of its own, never the public API's."""
    start_http_server(port, addr=host)
