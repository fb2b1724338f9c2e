"""Exponential backoff with jitter, so a fleet that lost the platform at once
does not come back at once."""

from __future__ import annotations

import random


class Backoff:
    def __init__(
        self,
        *,
        initial_s: float,
        max_s: float,
        multiplier: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        self._initial_s = initial_s
        self._max_s = max_s
        self._multiplier = multiplier
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay_s(self) -> float:
        """The next wait: between half and all of initial * multiplier**attempt (capped)."""
        ceiling = min(self._max_s, self._initial_s * self._multiplier**self._attempt)
        self._attempt = min(self._attempt + 1, 64)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self._attempt = 0
