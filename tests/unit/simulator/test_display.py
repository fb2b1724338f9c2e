"""What `imcloud simulate` prints where no terminal shows a spinner or a live
panel (a pipe, a CI log), and its report of what the platform detected."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console

from imcloud_simulator.detection import Detection, Episode, Findings, Scoring, Ticket
from imcloud_simulator.display import ProgressLines, detection_report, progress_line
from imcloud_simulator.faults import Fault, FaultEvent
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.onboarding import OnboardedMachine, OnboardedPlant
from imcloud_simulator.runner import Progress, Stage, Totals

START_MS = 1_800_000_000_000


def piped() -> Console:
    return Console(file=io.StringIO(), width=200, force_terminal=False)


def printed(console: Console) -> list[str]:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue().splitlines()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_piped_progress_is_a_line_every_few_seconds_and_at_each_milestone() -> None:
    console, clock = piped(), Clock()
    with ProgressLines(console, "onboarding 50 machines ...", every_s=5, clock=clock) as lines:
        for second in range(12):
            clock.now = second
            lines.update(f"{second + 1}/50 machines")
        lines.update("1/1 plant [done]", milestone=True)

    assert printed(console) == [
        "onboarding 50 machines ...",
        "6/50 machines",
        "11/50 machines",
        "1/1 plant [done]",
    ]


def test_a_progress_line_says_what_the_live_panel_says() -> None:
    totals = Totals(
        machines=10,
        connected=9,
        recorded=17_740,
        sent=17_526,
        accepted=17_454,
        refused=72,
        buffered=214,
    )
    progress = Progress(
        stage=Stage.DELIVERING,
        elapsed_s=30.2,
        ticks=150,
        totals=totals,
        active_faults=Counter({"sensor_stuck": 2, "leak": 1}),
    )

    assert progress_line(progress, duration_s=30) == (
        "30 s / 30 s, delivering the last batches: recorded 17,740, sent 17,526, "
        "accepted 17,454 (out of range 0), refused 72, dropped 0, buffered 214; "
        "9 of 10 connected; active faults: leak 1, sensor_stuck 2"
    )


def test_the_report_puts_what_was_detected_next_to_what_was_injected() -> None:
    fleet = Fleet(3, seed=1)
    plant = OnboardedPlant(
        api_key="imk_test",
        tenant_id="t",
        plant_id="p",
        equipment_model_ids={},
        machines=[
            OnboardedMachine(m, f"e{m.index}", "SN", "imd_x", f"s{m.index}") for m in fleet.machines
        ],
        line_ids={},
        time_zone="UTC",
    )
    faults = [FaultEvent(0, Fault.NAN_BURST, 10.0, 6.0, 0.8, "spindle_load")]
    detection = Detection(
        scoring=Scoring(scored=2, expected=3, elapsed_s=15.1),
        by_equipment={
            "e0": Findings(
                health_score=None,
                episodes=(
                    Episode(
                        "data_quality",
                        "low",
                        START_MS + 10_000,
                        START_MS + 16_000,
                        ("spindle_load",),
                        ("missing",),
                        closed=True,
                    ),
                ),
            ),
            "e1": Findings(health_score=91.6),
            "e2": Findings(
                health_score=42.0,
                episodes=(
                    Episode(
                        "anomaly",
                        "high",
                        START_MS + 40_000,
                        START_MS + 75_000,
                        ("vibration_rms", "oil_temperature"),
                        (),
                        closed=False,
                    ),
                ),
                tickets=(Ticket("Anomaly (high) detected on the machine", "high", "open"),),
            ),
        },
    )
    console = piped()
    console.print(detection_report(plant, faults, detection, start_ms=START_MS, wait_s=15))
    text = "\n".join(printed(console))

    assert "CNC mill 1" in text
    assert "Press 1" in text
    assert "Pump 1" not in text  # no fault injected, nothing detected
    assert "nan_burst (spindle_load) at 10 s for 6 s" in text
    assert "data_quality low at 10-16 s, missing: spindle_load; closed" in text
    assert "anomaly high at 40-75 s: vibration_rms, oil_temperature; open" in text
    assert "high, open" in text
    assert "learning" in text
    assert "42" in text
    assert "last batches of 2 of 3 machines scored" in text
    assert "1 of 3 machines have no health score yet" in text
