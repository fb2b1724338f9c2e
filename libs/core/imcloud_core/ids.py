"""Identifiers and time, the same way in every service."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    """Milliseconds since the epoch, the unit telemetry timestamps use."""
    return int(time.time() * 1000)
