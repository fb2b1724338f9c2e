"""What a client has done so far, as one consistent snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Refusal:
    """Points of one signal of one batch that the platform did not accept."""

    sequence_id: int
    signal: str
    # e.g. "not_finite", "unknown_signal", "timestamp_out_of_window" (see RefusalReason)
    reason: str
    points: int
    detail: str


@dataclass(frozen=True)
class DeviceStats:
    """Counters since the client was made. Every recorded point ends up accepted,
    refused or dropped, or is still buffered (waiting to be sent or acknowledged)."""

    points_recorded: int = 0
    # Points put on the link at least once (resends are not counted again).
    points_sent: int = 0
    # Accepted and durable on the platform; includes the flagged ones.
    points_accepted: int = 0
    # Accepted, but outside their signal's valid range.
    points_flagged: int = 0
    points_refused: int = 0
    refused_by_reason: Mapping[str, int] = field(default_factory=dict)
    # Dropped, oldest first, because the buffer was full.
    points_dropped: int = 0
    points_buffered: int = 0
    batches_sent: int = 0
    batches_resent: int = 0
    batches_acked: int = 0
    # Connection attempts after the first one.
    reconnects: int = 0
    # The link is open and the platform has answered on it.
    connected: bool = False
    commands_received: int = 0
    # The last refusals, newest last.
    recent_refusals: tuple[Refusal, ...] = ()
    last_error: str | None = None
    # Nothing more will be sent: the client was closed, or stopped by a fatal error.
    stopped: bool = False
    # The error that stopped the client (e.g. a revoked credential), if one did.
    fatal_error: str | None = None
