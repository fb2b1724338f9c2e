"""What `imcloud simulate` shows: live rates and totals, then a summary."""

from __future__ import annotations

from collections import Counter

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from imcloud_simulator.faults import FaultEvent
from imcloud_simulator.runner import CpuUse, Progress, Totals

# Rates over shorter spans than this are noise; the previous ones are kept.
MIN_RATE_SPAN_S = 0.25


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{name} {_n(count)}" for name, count in sorted(reasons.items())) or "-"


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
        grid.add_row("elapsed", f"{progress.elapsed_s:.0f} s{limit}, {progress.ticks} ticks")
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
            f"accepted {_n(totals.accepted)} (flagged {_n(totals.flagged)})   "
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
    for heading in ("machines", "count", "recorded", "accepted", "flagged", "refused", "dropped"):
        table.add_column(heading, justify="left" if heading == "machines" else "right")
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
