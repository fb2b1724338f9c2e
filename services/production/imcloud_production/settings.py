"""The production service's own settings: how the scheduler plans and repairs.

A section of the process settings (``IMCLOUD_SCHEDULING__*``); the platform
composes it with the others.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from imcloud_production.domain.scheduling.model import Objective


class SchedulingSettings(BaseModel):
    objective: Objective = Objective.WEIGHTED_TARDINESS_THEN_MAKESPAN
    # CP-SAT's time limit for a plan from scratch (the first, or RefreshSchedule)...
    time_limit_s: float = Field(default=8.0, gt=0, le=600)
    # ... and for a repair after an event, which starts from the dispatching rules.
    repair_time_limit_s: float = Field(default=1.5, gt=0, le=600)
    # CP-SAT workers; 0: one per core.
    workers: int = Field(default=0, ge=0)
    # Operations planned to start this soon stay where they are in a repair, so the
    # floor is not told something new about the next minutes at every event.
    frozen_horizon_s: int = Field(default=900, ge=0)
    # How far ahead the plant's calendar is laid out; work beyond it is unscheduled.
    horizon_days: int = Field(default=28, ge=1, le=366)
    # The most operations one schedule of a plant holds (the most urgent orders first),
    # so that one plant's backlog cannot hold up the scheduling of every other plant.
    max_operations: int = Field(default=5000, ge=1)
    # How long a station that goes down is assumed to stay down.
    station_down_assumed_s: int = Field(default=3600, ge=60)
    # A running operation projected to end this much later than planned is repaired for.
    slower_tolerance_s: int = Field(default=300, ge=1)
    # ETAs that moved less than this keep their explanation.
    eta_change_s: int = Field(default=60, ge=1)
    # How often the scheduler looks at stations' states and operations' progress.
    watch_every_s: float = Field(default=5.0, gt=0)
