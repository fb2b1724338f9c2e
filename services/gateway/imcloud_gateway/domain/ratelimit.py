"""Token-bucket rate limits: a sustained rate with room for bursts.

Each gateway replica keeps its own buckets, so with N replicas behind a load
balancer the effective limit is up to N times the configured one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from imcloud_core.errors import ResourceExhausted

# Buckets idle for this long are full again and can be forgotten.
IDLE_FORGET_S = 600.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + IDLE_FORGET_S

    def take(self, key: str, *, what: str) -> None:
        """Spends one token of ``key``'s bucket, or raises with the time to wait."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=self._burst, updated=now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                wait_s = (1.0 - bucket.tokens) / self._rate
                raise ResourceExhausted(
                    f"rate limit of {what} exceeded ({self._rate:g} requests/s, "
                    f"bursts of {self._burst:g}); retry in {wait_s:.1f} s",
                    retry_after_s=wait_s,
                )
            bucket.tokens -= 1.0
            if now >= self._next_sweep:
                self._sweep(now)

    def _sweep(self, now: float) -> None:
        idle = [k for k, b in self._buckets.items() if now - b.updated > IDLE_FORGET_S]
        for key in idle:
            del self._buckets[key]
        self._next_sweep = now + IDLE_FORGET_S
