"""Refreshes and quotes run the solver: one at a time per tenant, one per core in all."""

from __future__ import annotations

import pytest

from imcloud_core.errors import ResourceExhausted
from imcloud_production.api.grpc_schedules import SolverSlots


def test_a_tenant_waits_for_its_own_solve_and_others_for_a_free_core() -> None:
    slots = SolverSlots(total=2)
    with slots.taken("acme"):
        with (
            pytest.raises(ResourceExhausted, match="one at a time") as refused,
            slots.taken("acme"),
        ):
            pass
        assert refused.value.retry_after_s > 0
        with (
            slots.taken("globex"),
            pytest.raises(ResourceExhausted, match="other tenants"),
            slots.taken("initech"),
        ):
            pass
        # globex is done: a core is free again.
        with slots.taken("initech"):
            pass
    # A solve that failed frees its slot as well.
    with pytest.raises(ValueError, match="solver"), slots.taken("acme"):
        raise ValueError("solver")
    with slots.taken("acme"):
        pass
