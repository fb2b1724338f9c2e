"""Idle waits of background loops that wake early on news and on a stop."""

from __future__ import annotations

import threading
import time

# How soon a loop in a long idle wait notices a stop.
STOP_CHECK_S = 0.25


def wait_for_news(news: threading.Event, stopping: threading.Event, timeout_s: float) -> None:
    """Returns once ``news`` or ``stopping`` is set, or after ``timeout_s``.

    A loop can then poll its database rarely and still act at once on what this
    process tells it, and stop within STOP_CHECK_S."""
    deadline = time.monotonic() + timeout_s
    while not stopping.is_set() and (left := deadline - time.monotonic()) > 0:
        if news.wait(min(left, STOP_CHECK_S)):
            return
