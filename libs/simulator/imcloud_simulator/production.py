"""Sets an onboarded simulated plant up for production through the REST API:
what each station can do and how fast, how the machines' signals give states
and counts, a shift calendar covering now, a product per line whose routing
runs along the line's stations, and a work order released and started there.

It is a step of its own after onboarding, and like onboarding it reports each
step's count and stops at the first refusal with an OnboardingError naming the
request: nothing is skipped unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from imcloud_simulator.fleet import Fleet
from imcloud_simulator.machines import (
    DOWN,
    IDLE,
    PLANNED_STOP,
    RUNNING,
    SETUP,
    CentrifugalPump,
    CncMill,
    HydraulicPress,
)
from imcloud_simulator.onboarding import (
    OnboardedMachine,
    OnboardedPlant,
    OnboardingStep,
    PlatformApi,
)

SHIFT_HOURS = 8
SMALL_STOP_THRESHOLD_S = 120
STARTUP_WINDOW_S = 300
# How long the last reported state holds before a machine counts as silent.
STATE_HOLD_S = 60
RUN_STATES = {
    RUNNING: "running",
    IDLE: "idle",
    SETUP: "setup",
    DOWN: "down",
    PLANNED_STOP: "planned_stop",
}


@dataclass(frozen=True)
class LineProcess:
    """What a line of one kind of machine makes, and the operation each of its
    stations offers: station n the n-th of ``operations``, round the list."""

    part_prefix: str
    product: str
    unit: str
    operations: tuple[str, ...]
    setup_time_s: float


PROCESSES = {
    CncMill.KIND.key: LineProcess(
        "HSG", "Gearbox housing", "pcs", ("roughing", "finishing", "drilling"), 600.0
    ),
    HydraulicPress.KIND.key: LineProcess(
        "BRK", "Mounting bracket", "pcs", ("blanking", "forming"), 900.0
    ),
    CentrifugalPump.KIND.key: LineProcess("CLB", "Coolant batch", "batch", ("transfer",), 300.0),
}


@dataclass(frozen=True)
class ProductionLine:
    """A line set up for production: its product, and the station (with its
    machine) of each routing step, in order."""

    kind_key: str
    line_id: str
    product_id: str
    part_number: str
    steps: tuple[OnboardedMachine, ...]


@dataclass(frozen=True)
class PlantProduction:
    lines: list[ProductionLine]
    # The work order each line works on, by line id.
    work_orders: dict[str, str]


def state_mapping() -> dict[str, Any]:
    """How a simulated machine's signals give its state and counts (every kind
    reports run_state, good_count and scrap_count alike)."""
    return {
        "state_signal": "run_state",
        "rules": [
            {"comparison": "equal", "value": code, "state": state}
            for code, state in RUN_STATES.items()
        ],
        "default_state": "down",
        "good": {"signal": "good_count", "kind": "total"},
        "scrap": {"signal": "scrap_count", "kind": "total"},
        "hold_s": STATE_HOLD_S,
    }


def calendar_covering(now: datetime, time_zone: str) -> dict[str, Any]:
    """A calendar with a shift every day from the plant-local hour ``now`` is in,
    for SHIFT_HOURS: the machines produce in planned time from the start."""
    start = now.astimezone(ZoneInfo(time_zone)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=SHIFT_HOURS)
    return {
        "shifts": [
            {
                "name": "simulated",
                "days_of_week": [1, 2, 3, 4, 5, 6, 7],
                "start_time": start.strftime("%H:%M"),
                "end_time": end.strftime("%H:%M"),
                "breaks": [],
            }
        ],
        "holidays": [],
        "small_stop_threshold_s": SMALL_STOP_THRESHOLD_S,
        "startup_window_s": STARTUP_WINDOW_S,
    }


def operation(machine: OnboardedMachine) -> str:
    """The operation (capability) the machine's station offers."""
    operations = PROCESSES[machine.machine.kind.key].operations
    return operations[(machine.machine.number - 1) % len(operations)]


def _lines(plant: OnboardedPlant, run_id: str) -> list[tuple[str, str, list[OnboardedMachine]]]:
    """(kind key, part number, the kind's machines) of each line."""
    lines = []
    for kind_key in plant.line_ids:
        machines = [m for m in plant.machines if m.machine.kind.key == kind_key]
        lines.append((kind_key, f"{PROCESSES[kind_key].part_prefix}-{run_id}", machines))
    return lines


def onboard_production(
    api: PlatformApi,
    fleet: Fleet,
    plant: OnboardedPlant,
    *,
    run_id: str,
    now: datetime,
    quantity: float,
    progress: Callable[[OnboardingStep], None] = lambda step: None,
) -> PlantProduction:
    """Sets ``plant`` (onboarded from ``fleet``) up for production and starts a
    work order of ``quantity`` units on each line; ``api`` carries an admin key."""
    lines = _lines(plant, run_id)
    done = 0
    for _, part_number, machines in lines:
        for onboarded in machines:
            ideal_s = round(fleet.ideal_cycle_s(onboarded.machine.index), 3)
            api.patch(
                f"/v1/stations/{onboarded.station_id}",
                {
                    "capabilities": [operation(onboarded)],
                    "ideal_cycle_time_s": ideal_s,
                    "ideal_cycle_times": {part_number: ideal_s},
                },
            )
            done += 1
            progress(OnboardingStep("station capabilities", done, len(plant.machines)))
    models = plant.equipment_model_ids
    for done, model_id in enumerate(models.values(), start=1):
        api.put(f"/v1/equipment-models/{model_id}/state-mapping", state_mapping())
        progress(OnboardingStep("state mappings", done, len(models)))
    api.put(f"/v1/plants/{plant.plant_id}/calendar", calendar_covering(now, plant.time_zone))
    progress(OnboardingStep("shift calendar", 1, 1))

    production: list[ProductionLine] = []
    for kind_key, part_number, machines in lines:
        process = PROCESSES[kind_key]
        steps = tuple(machines[: len(process.operations)])
        product = api.post(
            "/v1/products",
            {
                "part_number": part_number,
                "name": process.product,
                "unit": process.unit,
                "routing": [
                    {
                        "name": f"{operation(step)} ({step.machine.kind.label})",
                        "capability": operation(step),
                        "setup_time_s": process.setup_time_s,
                        "ideal_cycle_time_s": round(fleet.ideal_cycle_s(step.machine.index), 3),
                    }
                    for step in steps
                ],
                "bom": [
                    {"component_part_number": f"RAW-{part_number}", "quantity": 1, "unit": "pcs"}
                ],
            },
        )
        line_id = plant.line_ids[kind_key]
        production.append(ProductionLine(kind_key, line_id, str(product["id"]), part_number, steps))
        progress(OnboardingStep("products", len(production), len(lines)))
    work_orders = {}
    for line in production:
        work_orders[line.line_id] = start_work_order(
            api, plant.plant_id, line, quantity=quantity, due=now + timedelta(hours=SHIFT_HOURS)
        )
        progress(OnboardingStep("work orders started", len(work_orders), len(production)))
    return PlantProduction(production, work_orders)


def start_work_order(
    api: PlatformApi, plant_id: str, line: ProductionLine, *, quantity: float, due: datetime
) -> str:
    """Plans, releases and starts a work order on ``line``, every operation at its
    station; returns its id."""
    order = api.post(
        "/v1/work-orders",
        {
            "product_id": line.product_id,
            "plant_id": plant_id,
            "quantity": quantity,
            "due_time": due.isoformat(),
            "priority": 500,
            "note": "simulated",
        },
    )
    order_id = str(order["id"])
    api.post(f"/v1/work-orders/{order_id}:release", {})
    for sequence, step in enumerate(line.steps, start=1):
        api.post(
            f"/v1/work-orders/{order_id}/operations/{sequence}:start",
            {"station_id": step.station_id},
        )
    return order_id


def complete_work_order(api: PlatformApi, order: dict[str, Any]) -> dict[str, Any]:
    """Completes the running operations of ``order`` (a work order as the API
    returns it), in routing order; returns the work order as completed."""
    order_id = order["id"]
    for operation in order["operations"]:
        if operation["state"] == "running":
            order = api.post(
                f"/v1/work-orders/{order_id}/operations/{operation['sequence']}:complete", {}
            )
    return order
