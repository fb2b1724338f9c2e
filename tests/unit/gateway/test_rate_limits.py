from __future__ import annotations

import pytest

from imcloud_core.errors import ResourceExhausted
from imcloud_gateway.domain.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_sustained_rate_applies() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2.0, burst=5, clock=clock)
    for _ in range(5):
        limiter.take("tenant-a", what="the tenant")
    with pytest.raises(ResourceExhausted) as refused:
        limiter.take("tenant-a", what="the tenant")
    assert refused.value.retry_after_s == pytest.approx(0.5)
    clock.now += 0.5
    limiter.take("tenant-a", what="the tenant")  # one token refilled


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1, clock=Clock())
    limiter.take("a", what="x")
    limiter.take("b", what="x")
    with pytest.raises(ResourceExhausted):
        limiter.take("a", what="x")


def test_an_idle_bucket_refills_only_up_to_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=10.0, burst=3, clock=clock)
    limiter.take("a", what="x")
    clock.now += 3600
    for _ in range(3):
        limiter.take("a", what="x")
    with pytest.raises(ResourceExhausted):
        limiter.take("a", what="x")
