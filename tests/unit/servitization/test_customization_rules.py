"""Rules of mass customization that need no store: which configurator a family
revision gets, and how a machine's telemetry buckets add up for a genealogy."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from imcloud_servitization.domain.customization import (
    Configurators,
    ProductFamily,
    SignalSummary,
    merge_summaries,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def family(family_id: str, revision: int, colors: list[str]) -> ProductFamily:
    definition = {
        "name": "Mug",
        "plant_id": "plant-1",
        "product_id": "product-1",
        "currency": "EUR",
        "base_price": 5,
        "options": [{"name": "color", "kind": "choice", "values": [{"value": c} for c in colors]}],
        "routing": [{"name": "glaze", "capability": "glazing", "ideal_cycle_time_s": 30}],
    }
    return ProductFamily(family_id, "tenant-1", "Mug", json.dumps(definition), revision, T0, T0)


def colors(configurators: Configurators, of: ProductFamily) -> tuple[object, ...]:
    _, configurator = configurators.of(of)
    return configurator.configure({}).domains[0].values or ()


def test_each_family_revision_gets_its_own_configurator_compiled_once() -> None:
    configurators = Configurators(capacity=2)
    first = configurators.of(family("f-1", 1, ["blue"]))
    assert configurators.of(family("f-1", 1, ["blue"])) is first
    assert colors(configurators, family("f-1", 2, ["blue", "red"])) == ("blue", "red")
    assert colors(configurators, family("f-2", 1, ["green"])) == ("green",)
    # The least recently used (f-1 at revision 1) made room: it is compiled anew.
    assert configurators.of(family("f-1", 1, ["blue"])) is not first


def test_buckets_of_a_signal_add_up_to_one_summary_weighted_by_count() -> None:
    merged = merge_summaries(
        [
            SignalSummary("temp", 3, 20, 30, 25),
            SignalSummary("rpm", 1, 900, 900, 900),
            SignalSummary("temp", 1, 10, 10, 10),
            SignalSummary("rpm", 0, 0, 0, 0),
        ]
    )
    assert merged == (
        SignalSummary("temp", 4, 10, 30, 21.25),
        SignalSummary("rpm", 1, 900, 900, 900),
    )
    assert merge_summaries([]) == ()
