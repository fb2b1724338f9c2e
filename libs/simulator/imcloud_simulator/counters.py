"""Good and scrap counts of a kind's machines, totalled the way a PLC counts them.

A machine makes one unit at the end of each of its cycles, and its cycles
advance only while it runs. Each machine has its own cycle time; a single cycle
varies around it, and a machine degraded by a physical fault cycles slower and
scraps more. The first units after a restart from setup or a stop are start-up
rejects more often than not. Both totals only grow, unless reset on purpose.
"""

from __future__ import annotations

import numpy as np

from imcloud_simulator.faults import Bools, Floats

# A healthy machine runs at this share of its ideal rate: its mean cycle is the
# ideal cycle over this, what stations are registered with is the ideal.
HEALTHY_PERFORMANCE = 0.95
# Cycle-to-cycle variation of a healthy machine (sigma of a mean-one lognormal).
CYCLE_SPREAD = 0.08
# A fully degraded machine (degradation 1) needs this much longer per cycle.
DEGRADED_SLOWDOWN = 0.6
# ... and scraps this much more often.
DEGRADED_SCRAP_RATE = 0.3
# The units after a restart while the process settles, and their scrap rate.
STARTUP_UNITS = 3
STARTUP_SCRAP_RATE = 0.4


class PartCounter:
    """Good and scrap totals of ``count`` machines."""

    def __init__(
        self,
        count: int,
        rng: np.random.Generator,
        *,
        cycle_s: tuple[float, float],
        scrap_rate: tuple[float, float],
    ) -> None:
        self._rng = rng
        # Each machine's mean cycle when healthy, and its usual scrap rate.
        self.cycle_s = rng.uniform(*cycle_s, count)
        self.scrap_rate = rng.uniform(*scrap_rate, count)
        self.good = np.zeros(count)
        self.scrap = np.zeros(count)
        # How much of the current cycle is done, and how long that cycle takes.
        self.progress = rng.uniform(0.0, 1.0, count)
        self.current_s = self._cycles(self.cycle_s)
        # Units made since the last restart; a machine found running is settled.
        self.since_restart = np.full(count, STARTUP_UNITS)

    @property
    def ideal_cycle_s(self) -> Floats:
        ideal: Floats = self.cycle_s * HEALTHY_PERFORMANCE
        return ideal

    def step(self, dt: float, *, running: Bools, restarted: Bools, degradation: Floats) -> None:
        """Advances the cycles of the running machines by ``dt`` seconds; a machine
        that ``restarted`` (from setup or a stop) starts its start-up units."""
        self.since_restart[restarted] = 0
        pace = dt / (self.current_s * (1.0 + DEGRADED_SLOWDOWN * degradation))
        self.progress += np.where(running, pace, 0.0)
        units = np.floor(self.progress)
        done = np.flatnonzero(units > 0)
        if not done.size:
            return
        made = units[done].astype(np.int64)
        rate = np.where(
            self.since_restart[done] < STARTUP_UNITS,
            STARTUP_SCRAP_RATE,
            self.scrap_rate[done],
        )
        rate = np.clip(rate + DEGRADED_SCRAP_RATE * degradation[done], 0.0, 1.0)
        scrapped = self._rng.binomial(made, rate)
        self.scrap[done] += scrapped
        self.good[done] += made - scrapped
        self.since_restart[done] += made
        self.progress[done] -= made
        self.current_s[done] = self._cycles(self.cycle_s[done])

    def reset(self, machine: int) -> None:
        """Both totals of ``machine`` start again from zero (a PLC's counter reset)."""
        self.good[machine] = 0.0
        self.scrap[machine] = 0.0

    def _cycles(self, mean_s: Floats) -> Floats:
        spread = self._rng.lognormal(-(CYCLE_SPREAD**2) / 2.0, CYCLE_SPREAD, mean_s.shape)
        cycles: Floats = mean_s * spread
        return cycles
