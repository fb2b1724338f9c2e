"""Alarm rules judged in the stream, and what they cost the telemetry path.

The telemetry benchmark's flat-out run (20 machines x 10 signals, distributed mode
on the local Kafka and PostgreSQL) with 1,000 active threshold rules on the
fleet's machines against none, in turns (ABBA). 999 rules watch for a value the
load never sends (the steady state of most rules); one for a value the load's ramp
crosses five times a batch, so its alarm is raised and cleared again and again
(300 alarms a run). Writes tests/bench/results/alarms.md.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from tests.bench import telemetry_bench as telemetry
from tests.bench.telemetry_bench import Run, say
from tests.conftest import FreshDatabases
from tests.support.api import Tenant

RULES = 1000
TURNS = (0, RULES, RULES, 0)
# The load's ramp runs 0..96 on every signal.
NEVER, CROSSED = 1000.0, 50.0
FLAPPING_EVERY = 1000


def alarm_rules(count: int) -> Callable[[Tenant, list[dict[str, object]]], None]:
    def create(tenant: Tenant, fleet: list[dict[str, object]]) -> None:
        loaded = fleet[1:]  # the first is the latency probe's
        say(f"creating {count:,} alarm rules over {len(loaded)} machines")
        for number in range(count):
            machine = loaded[number % len(loaded)]
            signals = list(machine["signals"])  # type: ignore[call-overload]
            response = tenant.post(
                "/v1/alarm-rules",
                {
                    "name": f"Rule {number}",
                    "scope": {"equipment_id": machine["id"]},
                    "condition": {
                        "threshold": {
                            "signal": signals[number // len(loaded) % len(signals)],
                            "threshold": CROSSED if number % FLAPPING_EVERY == 0 else NEVER,
                        }
                    },
                },
            )
            assert response.status_code == 201, response.text

    return create


def main() -> None:
    databases = FreshDatabases(telemetry.POSTGRES_URL)
    runs: list[tuple[int, Run]] = []
    raised: list[int] = []
    try:
        with telemetry.distributed_platform(databases) as platform:
            servitization_db = platform.env["IMCLOUD_DATABASE_URLS__SERVITIZATION"]
            for rules in TURNS:
                prepare = alarm_rules(rules) if rules else None
                before = alarms_raised(servitization_db)
                run = telemetry.end_to_end(
                    platform,
                    rate=0,
                    batches=telemetry.BATCHES_PER_MACHINE,
                    tracked=True,
                    prepare=prepare,
                )
                runs.append((rules, run))
                raised.append(alarms_raised(servitization_db) - before)
                say(f"  {raised[-1]:,} alarms raised during the run")
    finally:
        databases.drop_all()
    report(runs, raised)


def alarms_raised(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM alarms")).scalar_one())
    finally:
        engine.dispose()


def report(runs: list[tuple[int, Run]], raised: list[int]) -> None:
    with_rules = statistics.mean(r.queryable for n, r in runs if n)
    without = statistics.mean(r.queryable for n, r in runs if not n)
    rows = [
        ("end to end without alarm rules", without, "points/s"),
        (f"end to end with {RULES:,} active alarm rules", with_rules, "points/s"),
        ("with the rules, as a share of without", 100 * with_rules / without, "%"),
        (
            "alarms raised (and cleared) per run with the rules",
            statistics.mean(a for (n, _), a in zip(runs, raised, strict=True) if n),
            "alarms",
        ),
        *(
            (
                f"CPU per batch, servitization, {'with' if rules else 'without'} rules",
                statistics.mean(r.cpu_ms_per_batch["servitization"] for n, r in runs if n == rules),
                "ms",
            )
            for rules in (0, RULES)
        ),
    ]
    lines = ["| measure | value | unit |", "|---|---:|---|"]
    lines += [f"| {name} | {value:,.1f} | {unit} |" for name, value, unit in rows]
    table = "\n".join(lines)
    print("\n" + table + "\n", flush=True)
    turns = [
        {
            "rules": n,
            "queryable points/s": round(r.queryable),
            "CPU ms per batch": r.cpu_ms_per_batch,
        }
        for n, r in runs
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    telemetry.RESULTS.mkdir(parents=True, exist_ok=True)
    (telemetry.RESULTS / "alarms.md").write_text(
        f"# Alarm rules benchmark ({stamp})\n\n{table}\n\n{telemetry.MACHINES} machines x "
        f"{telemetry.SIGNALS} signals, batches of "
        f"{telemetry.SIGNALS * telemetry.POINTS_PER_SIGNAL:,} points, production tracking; "
        f"runs in order: {turns}\n"
    )


if __name__ == "__main__":
    main()
