"""The desired state from the platform (the desired side of the machine's twin)
and the machine's reports of the version it applied.

Desired states are applied one at a time, on a worker thread of their own, like
commands. The platform may send a version more than once (on every connect
until it hears of it, from several gateway replicas): a version not newer than
the last one applied is not applied again; a repeat of the last one is answered
with its report again, in case the first report was lost on the way.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imcloud.gateway.v1 import device_link_pb2 as pb

log = logging.getLogger("imcloud_device")


@dataclass(frozen=True)
class DesiredState:
    """What the platform wants the machine to run with, e.g.
    ``version=3, properties={"feed_override": 90, "mode": "eco"}``: the whole set
    of desired properties (one left out was removed)."""

    version: int
    properties: dict[str, Any]

    @classmethod
    def from_message(cls, message: pb.DesiredState) -> DesiredState:
        return cls(version=message.version, properties=json.loads(message.properties_json or "{}"))


DesiredHandler = Callable[[DesiredState], str | None]
"""Applies a desired state on the machine; returns what it could not apply (None
or "" when all of it applied). If it raises, the version counts as not applied:
the platform sends it again on the next connect."""


class DesiredStateRunner:
    """Applies desired states in order on one worker thread and hands back reports."""

    def __init__(
        self,
        handler: DesiredHandler | None,
        deliver: Callable[[pb.DesiredStateApplied], None],
    ) -> None:
        self._handler = handler
        self._deliver = deliver
        self._queue: queue.SimpleQueue[pb.DesiredState | None] = queue.SimpleQueue()
        self._last: pb.DesiredStateApplied | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, message: pb.DesiredState) -> None:
        if self._handler is None:
            return  # this machine takes no desired state; the twin shows it pending
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="imcloud-device-desired", daemon=True
                )
                self._thread.start()
        self._queue.put(message)

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _work(self) -> None:
        while (message := self._queue.get()) is not None:
            last = self._last
            if last is not None and message.version <= last.version:
                if message.version == last.version:
                    self._deliver(last)
                continue
            report = self._apply(message)
            if report is not None:
                self._last = report
                self._deliver(report)

    def _apply(self, message: pb.DesiredState) -> pb.DesiredStateApplied | None:
        assert self._handler is not None
        try:
            detail = self._handler(DesiredState.from_message(message))
        except Exception:
            log.exception("desired state handler failed", extra={"version": message.version})
            return None
        return pb.DesiredStateApplied(version=message.version, detail=str(detail or ""))
