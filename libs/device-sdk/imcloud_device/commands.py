"""Commands from the platform (remote operation) and the machine's answers.

Commands run one at a time, in arrival order, on a worker thread of their own,
so a slow command never holds up telemetry or acknowledgements. Every command
that arrives is confirmed at once with a receipt (only then is it DELIVERED on
the platform); the platform sends a command again while its receipt is missing,
and after reconnects or through another gateway, so a command seen again is not
run again: a repeat of a finished one is answered with the first result. A
cancelled command that has not started is dropped, and never run if it comes
later.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from imcloud.gateway.v1 import device_link_pb2 as pb

log = logging.getLogger("imcloud_device")

# Results of this many recent commands are kept to answer repeats, and as many
# cancelled command ids to drop a late copy of them.
REMEMBERED_COMMANDS = 256


class CommandOutcome(IntEnum):
    """How the machine answers a command (``imcloud.gateway.v1.CommandOutcome``)."""

    SUCCEEDED = 1
    FAILED = 2
    REJECTED = 3


@dataclass(frozen=True)
class Command:
    """An instruction for the machine, e.g. ``name="set_speed", parameters={"rpm": 1200.0}``."""

    command_id: str
    name: str
    parameters: dict[str, Any]
    # The machine should not execute the command after this time (None: no limit).
    expire_time: datetime | None = None

    @classmethod
    def from_message(cls, message: pb.Command) -> Command:
        return cls(
            command_id=message.command_id,
            name=message.name,
            parameters=json.loads(message.parameters_json or "{}"),
            expire_time=message.expire_time.ToDatetime(tzinfo=UTC)
            if message.HasField("expire_time")
            else None,
        )


CommandHandler = Callable[[Command], tuple[CommandOutcome, str]]
"""Runs a command on the machine; returns the outcome and a human-readable detail."""


def execute(handler: CommandHandler | None, command: Command) -> tuple[CommandOutcome, str]:
    """Runs one command through the handler; never raises."""
    if command.expire_time is not None and command.expire_time.timestamp() < time.time():
        return CommandOutcome.REJECTED, "expired before it could be executed"
    if handler is None:
        return CommandOutcome.REJECTED, "this device takes no commands"
    try:
        outcome, detail = handler(command)
    except Exception as exc:
        log.exception("command handler failed", extra={"command_id": command.command_id})
        return CommandOutcome.FAILED, f"{type(exc).__name__}: {exc}"
    if not isinstance(outcome, CommandOutcome):
        return CommandOutcome.FAILED, f"the handler answered {outcome!r}, not a CommandOutcome"
    return outcome, str(detail)


class CommandRunner:
    """Runs commands in order on one worker thread, each command id once, and hands
    back their receipts and results."""

    def __init__(
        self,
        handler: CommandHandler | None,
        deliver: Callable[[pb.CommandResult], None],
        confirm: Callable[[pb.CommandReceipt], None],
    ) -> None:
        self._handler = handler
        self._deliver = deliver
        self._confirm = confirm
        self._queue: queue.SimpleQueue[pb.Command | None] = queue.SimpleQueue()
        self._results: OrderedDict[str, pb.CommandResult] = OrderedDict()
        # Queued or running: a repeat of one of these gets its receipt only.
        self._waiting: set[str] = set()
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, message: pb.Command) -> None:
        command_id = message.command_id
        with self._lock:
            if command_id in self._cancelled:
                return
            result = self._results.get(command_id)
            repeat = result is not None or command_id in self._waiting
            if not repeat:
                self._waiting.add(command_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="imcloud-device-commands", daemon=True
                )
                self._thread.start()
        self._confirm(pb.CommandReceipt(command_id=command_id))
        if result is not None:
            self._deliver(result)
        elif not repeat:
            self._queue.put(message)

    def cancel(self, command_id: str) -> None:
        """Drops the command unless it has started (or finished): it will not run."""
        with self._lock:
            self._cancelled[command_id] = None
            while len(self._cancelled) > REMEMBERED_COMMANDS:
                self._cancelled.popitem(last=False)

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _work(self) -> None:
        while (message := self._queue.get()) is not None:
            command_id = message.command_id
            with self._lock:
                dropped = command_id in self._cancelled
                if dropped:
                    self._waiting.discard(command_id)
            if dropped:
                log.info("cancelled command dropped", extra={"command_id": command_id})
                continue
            outcome, detail = execute(self._handler, Command.from_message(message))
            result = pb.CommandResult(
                command_id=command_id,
                outcome=pb.CommandOutcome.ValueType(outcome),
                detail=detail,
            )
            with self._lock:
                self._results[command_id] = result
                while len(self._results) > REMEMBERED_COMMANDS:
                    self._results.popitem(last=False)
                self._waiting.discard(command_id)
            self._deliver(result)
