"""What `imcloud simulate` shows: progress of onboarding, live rates and totals,
a summary, and what the platform detected next to the faults injected.

A terminal gets a spinner and a live panel; a pipe or a CI log, where rich shows
neither, gets the same progress as a plain line every few seconds.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.status import Status
from rich.table import Table
from rich.text import Text

from imcloud_simulator.detection import Detection, Episode, Scoring
from imcloud_simulator.faults import FaultEvent
from imcloud_simulator.onboarding import OnboardedPlant, OnboardingStep
from imcloud_simulator.runner import CpuUse, Progress, Stage, Totals

# Rates over shorter spans than this are noise; the previous ones are kept.
MIN_RATE_SPAN_S = 0.25
# How often progress is printed as a line where no spinner or panel shows.
LINE_EVERY_S = 5.0
STAGE_NOTES = {
    Stage.RUNNING: "",
    Stage.DELIVERING: ", delivering the last batches",
    Stage.DONE: ", done",
}


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{name} {_n(count)}" for name, count in sorted(reasons.items())) or "-"


class ProgressLines:
    """Progress of long work: on a terminal, a spinner showing the latest update;
    elsewhere, the latest update as a line every ``every_s``. Milestones are
    printed as lines on both, so they stay in the scrollback or the log."""

    def __init__(
        self,
        console: Console,
        text: str,
        *,
        every_s: float = LINE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._every_s = every_s
        self._clock = clock
        self._spinner: Status | None = console.status(text) if console.is_terminal else None
        self._printed_at = clock()
        if self._spinner is None:
            self._print(text)

    def __enter__(self) -> ProgressLines:
        if self._spinner is not None:
            self._spinner.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._spinner is not None:
            self._spinner.stop()

    def update(self, text: str, *, milestone: bool = False) -> None:
        if self._spinner is not None:
            self._spinner.update(text)
            if milestone:
                self._print(text)
        elif milestone or self._clock() - self._printed_at >= self._every_s:
            self._print(text)

    def _print(self, text: str) -> None:
        self._console.print(text, markup=False, soft_wrap=True)
        self._printed_at = self._clock()


def onboarding_line(step: OnboardingStep, elapsed_s: float) -> str:
    return f"onboarding: {step.done}/{step.total} {step.what} ({elapsed_s:.1f} s)"


def progress_line(progress: Progress, *, duration_s: float) -> str:
    """The live panel in one line."""
    totals = progress.totals
    limit = f" / {duration_s:.0f} s" if duration_s > 0 else ""
    faults = ", ".join(f"{name} {n}" for name, n in sorted(progress.active_faults.items()))
    return (
        f"{progress.elapsed_s:.0f} s{limit}{STAGE_NOTES[progress.stage]}: "
        f"recorded {_n(totals.recorded)}, sent {_n(totals.sent)}, "
        f"accepted {_n(totals.accepted)} (out of range {_n(totals.flagged)}), "
        f"refused {_n(totals.refused)}, dropped {_n(totals.dropped)}, "
        f"buffered {_n(totals.buffered)}; {totals.connected} of {totals.machines} connected"
        + (f", {totals.failed} stopped by an error" if totals.failed else "")
        + f"; active faults: {faults or 'none'}"
    )


def _percent(ratio: float | None) -> str:
    return "    -" if ratio is None else f"{100.0 * ratio:5.1f}%"


def oee_line(name: str, oee: dict[str, Any]) -> str:
    """A scope's OEE (a figure of GET /v1/oee) in one line, with what it made."""
    quantities = oee["quantities"]
    return (
        f"{name}: A {_percent(oee['availability'])}  P {_percent(oee['performance'])}  "
        f"Q {_percent(oee['quality'])}  OEE {_percent(oee['oee'])}  "
        f"({_n(quantities['good'])} good, {_n(quantities['scrap'])} scrap)"
    )


def scoring_line(scoring: Scoring, *, wait_s: float) -> str:
    return (
        f"scoring: the last batches of {scoring.scored}/{scoring.expected} machines scored "
        f"after {scoring.elapsed_s:.1f} s (waiting at most {wait_s:g} s)"
    )


class LiveView:
    """Renders progress; rates are per second since the previous render."""

    def __init__(self, *, title: str, duration_s: float) -> None:
        self._title = title
        self._duration_s = duration_s
        self._previous: Progress | None = None
        self._rates = (0.0, 0.0, 0.0)

    def render(self, progress: Progress) -> Panel:
        totals = progress.totals
        previous = self._previous
        if previous is None:
            self._previous = progress
        elif (span := progress.elapsed_s - previous.elapsed_s) >= MIN_RATE_SPAN_S:
            self._rates = (
                (totals.sent - previous.totals.sent) / span,
                (totals.accepted - previous.totals.accepted) / span,
                (totals.refused - previous.totals.refused) / span,
            )
            self._previous = progress
        sent, accepted, refused = self._rates

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        limit = f" / {self._duration_s:.0f} s" if self._duration_s > 0 else " (Ctrl-C stops)"
        grid.add_row(
            "elapsed",
            f"{progress.elapsed_s:.0f} s{limit}, {progress.ticks} ticks"
            + STAGE_NOTES[progress.stage],
        )
        grid.add_row(
            "machines",
            f"{totals.connected} of {totals.machines} connected"
            + (f", [red]{totals.failed} stopped by an error[/red]" if totals.failed else ""),
        )
        grid.add_row(
            "points/s",
            f"sent [cyan]{_n(sent)}[/cyan]   accepted [green]{_n(accepted)}[/green]   "
            f"refused [yellow]{_n(refused)}[/yellow]",
        )
        grid.add_row(
            "totals",
            f"recorded {_n(totals.recorded)}   sent {_n(totals.sent)}   "
            f"accepted {_n(totals.accepted)} (out of range {_n(totals.flagged)})   "
            f"refused {_n(totals.refused)}   dropped {_n(totals.dropped)}   "
            f"buffered {_n(totals.buffered)}",
        )
        grid.add_row("refused by reason", _reasons(totals.refused_by_reason))
        grid.add_row(
            "active faults",
            ", ".join(f"{name} {count}" for name, count in sorted(progress.active_faults.items()))
            or "none",
        )
        grid.add_row("reconnects", _n(totals.reconnects))
        return Panel(grid, title=self._title, title_align="left")


def summary(
    by_kind: dict[str, Totals],
    *,
    faults: list[FaultEvent],
    cpu: CpuUse,
    ticks: int,
) -> Group:
    table = Table(title="Simulation summary", title_justify="left")
    table.add_column("machines")
    # Out of range: accepted, but outside the signal's valid range in its model.
    for heading in ("count", "recorded", "accepted", "out of range", "refused", "dropped"):
        table.add_column(heading, justify="right")
    table.add_column("unsent", justify="right")
    everything = Totals.combine(list(by_kind.values()))
    for label, totals in [*by_kind.items(), ("all", everything)]:
        table.add_row(
            label,
            _n(totals.machines),
            _n(totals.recorded),
            _n(totals.accepted),
            _n(totals.flagged),
            _n(totals.refused),
            _n(totals.dropped),
            _n(totals.buffered),
            style="bold" if label == "all" else None,
        )
    injected = Counter(str(event.fault) for event in faults)
    lines: list[RenderableType] = [
        table,
        Text(f"refused by reason: {_reasons(everything.refused_by_reason)}"),
        Text(
            "faults injected: "
            + (", ".join(f"{name} {count}" for name, count in sorted(injected.items())) or "none")
        ),
        Text(
            f"{ticks} ticks in {cpu.wall_s:.1f} s; simulator CPU {cpu.cpu_s:.2f} s "
            f"= {cpu.cores:.2f} of one core"
        ),
    ]
    return Group(*lines)


def detection_report(
    plant: OnboardedPlant,
    faults: list[FaultEvent],
    detection: Detection,
    *,
    start_ms: int,
    wait_s: float,
) -> Group:
    """A row per machine with a fault injected or an episode detected: the faults,
    the episodes and tickets, and whether the platform still learns the machine."""
    table = Table(
        title="Faults injected and what the platform detected (times from the start)",
        title_justify="left",
    )
    for heading in ("machine", "faults injected", "episodes detected", "tickets", "health"):
        table.add_column(heading)
    injected: dict[int, list[FaultEvent]] = {}
    for event in faults:
        injected.setdefault(event.machine, []).append(event)
    for onboarded in plant.machines:
        findings = detection.by_equipment.get(onboarded.equipment_id)
        episodes = findings.episodes if findings else ()
        events = injected.get(onboarded.machine.index, [])
        if not events and not episodes:
            continue
        table.add_row(
            onboarded.machine.name,
            "\n".join(_fault(event) for event in events) or "-",
            "\n".join(_episode(episode, start_ms) for episode in episodes) or "-",
            "\n".join(f"{t.priority}, {t.state}" for t in findings.tickets)
            if findings and findings.tickets
            else "-",
            _health(findings.health_score if findings else None),
        )
    lines: list[RenderableType] = [
        table if table.rows else Text("no faults injected and nothing detected")
    ]
    scoring = detection.scoring
    if scoring.scored < scoring.expected:
        lines.append(
            Text(
                f"the wait ended after {scoring.elapsed_s:.0f} s (--detection-wait {wait_s:g}) "
                f"with the last batches of {scoring.scored} of {scoring.expected} machines "
                "scored: what the platform detects after that is not shown"
            )
        )
    learning = sum(f.health_score is None for f in detection.by_equipment.values())
    if learning:
        lines.append(
            Text(
                f"{learning} of {len(detection.by_equipment)} machines have no health score "
                "yet: the platform is still learning their normal running and raises "
                "anomalies only after that (data-quality issues from the start)"
            )
        )
    return Group(*lines)


def _fault(event: FaultEvent) -> str:
    signal = f" ({event.signal})" if event.signal else ""
    return f"{event.fault}{signal} at {event.start_s:.0f} s for {event.duration_s:.0f} s"


def _episode(episode: Episode, start_ms: int) -> str:
    text = (
        f"{episode.kind} {episode.severity} at {(episode.start_ms - start_ms) / 1000:.0f}-"
        f"{(episode.end_ms - start_ms) / 1000:.0f} s"
    )
    if episode.quality_issues:
        text += ", " + ", ".join(episode.quality_issues)
    if episode.top_signals:
        text += ": " + ", ".join(episode.top_signals)
    return text + ("; closed" if episode.closed else "; open")


def _health(score: float | None) -> str:
    return "learning" if score is None else f"{score:.0f}"
