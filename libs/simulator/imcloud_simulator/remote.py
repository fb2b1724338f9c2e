"""What a simulated machine does with commands from the platform: an operator can
hold it idle, in setup, down or in a planned stop for a while, after which it runs.

Commands arrive on the device SDK's worker threads while the runner steps the fleet
on its own; requests wait in a queue until the runner applies them between ticks.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

from imcloud_device import Command, CommandHandler, CommandOutcome
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.machines import DOWN, IDLE, PLANNED_STOP, SETUP

HOLD = "hold"
HOLDABLE_STATES = {"idle": IDLE, "setup": SETUP, "down": DOWN, "planned_stop": PLANNED_STOP}
DEFAULT_HOLD_S = 60.0
MAX_HOLD_S = 8 * 3600.0
USAGE = (
    f'{HOLD} {{"state": {" | ".join(HOLDABLE_STATES)}, '
    f'"duration_s": 1..{MAX_HOLD_S:g} (default {DEFAULT_HOLD_S:g})}}'
)


@dataclass(frozen=True)
class HoldRequest:
    machine: int
    state: int
    duration_s: float


class CommandDesk:
    """Answers every simulated machine's commands and hands the holds to the fleet."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[HoldRequest] = queue.SimpleQueue()

    def handler(self, machine: int) -> CommandHandler:
        """The device SDK's command handler of the fleet's ``machine``."""
        return lambda command: self._answer(machine, command)

    def apply(self, fleet: Fleet) -> None:
        """Puts every hold asked for since the last call on its machine."""
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            fleet.hold(request.machine, request.state, request.duration_s)

    def _answer(self, machine: int, command: Command) -> tuple[CommandOutcome, str]:
        if command.name != HOLD:
            return CommandOutcome.REJECTED, f"a simulated machine knows {USAGE}"
        state = command.parameters.get("state")
        duration = command.parameters.get("duration_s", DEFAULT_HOLD_S)
        if state not in HOLDABLE_STATES:
            return CommandOutcome.REJECTED, f"state must be one of {', '.join(HOLDABLE_STATES)}"
        if (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not 1 <= duration <= MAX_HOLD_S
        ):
            return CommandOutcome.REJECTED, f"duration_s must be a number from 1 to {MAX_HOLD_S:g}"
        self._requests.put(HoldRequest(machine, HOLDABLE_STATES[state], float(duration)))
        return CommandOutcome.SUCCEEDED, f"held {state} for {duration:g} s, then it runs"
