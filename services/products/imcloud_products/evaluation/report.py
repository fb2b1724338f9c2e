"""`imcloud eval anomaly`: the anomaly detector on public labelled data.

Scores the production detector (its one default configuration) on SKAB and NAB
directly, and, with --through-platform, replays SKAB through a running embedded
platform and scores what the platform stored: both must agree row by row.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly import (
    DetectorConfig,
    MachineEpisodes,
    StreamingAnomalyDetector,
)
from imcloud_products.domain.monitoring import EPISODE_QUIET_PERIOD_MS
from imcloud_products.evaluation.datasets import SKAB_SIGNALS, SkabFile, load_skab
from imcloud_products.evaluation.nab import NAB_DETECTOR_CONFIG, evaluate_nab
from imcloud_products.evaluation.replay import PlatformReplay
from imcloud_products.evaluation.skab import (
    Confusion,
    evaluate_skab,
    score_skab,
)
from imcloud_products.evaluation.throughput import measure_throughput

# Best published figures, for orientation only: the SKAB leaderboard covers 34
# files (valve2 included) and NAB's scoreboard all 58 NAB files, so neither is
# directly comparable with the subsets evaluated here.
SKAB_PUBLISHED = "Conv-AE 0.78 / 13.55 / 28.02 (34 files)"
SKAB_CHANGEPOINTS_PUBLISHED = "MSCRED 32.42 (34 files)"
NAB_PUBLISHED = "ARTime 74.9 (58 files)"
COLUMNS = ("dataset", "rows scored", "F1", "FAR %", "MAR %", "NAB score", "best published")


@dataclass(frozen=True)
class Row:
    dataset: str
    rows: int | None = None
    f1: float | None = None
    far: float | None = None
    mar: float | None = None
    nab: float | None = None
    published: str = ""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def evaluate(datasets_dir: Path, *, through_platform: bool) -> str:
    """The evaluation table: one row per dataset (and per scoring of it)."""
    config = DetectorConfig()
    say(f"evaluating the production detector on {datasets_dir}")
    skab = evaluate_skab(datasets_dir, config)
    rows = [_skab_row("SKAB, all 30 labelled files", skab.outliers, SKAB_PUBLISHED)]
    rows += [
        _skab_row(f"SKAB, {category} files", confusion, "")
        for category, confusion in skab.per_category.items()
    ]
    rows.append(
        Row(
            "SKAB changepoints (NAB-style, standard)",
            nab=skab.changepoints.standard,
            published=SKAB_CHANGEPOINTS_PUBLISHED,
        )
    )
    nab = evaluate_nab(datasets_dir, config)
    rows.append(
        Row(
            f"NAB realKnownCause, 3 files ({nab.windows} windows)",
            nab=nab.profiles["standard"].normalised,
            published=NAB_PUBLISHED,
        )
    )
    tuned = evaluate_nab(datasets_dir, NAB_DETECTOR_CONFIG)
    rows.append(
        Row(
            "NAB, same files, configuration tuned on them (optimistic)",
            nab=tuned.profiles["standard"].normalised,
        )
    )
    if through_platform:
        rows += replayed_rows(datasets_dir, config, direct=skab.predictions)
    measured = measure_throughput()
    table = format_rows(rows)
    return (
        f"{table}\n\ndetector throughput: {measured.points_per_second:,.0f} points/s on one core "
        f"({measured.machines} machines x {measured.signals} signals; the ingest target is "
        "100,000)"
    )


def _skab_row(name: str, confusion: Confusion, published: str) -> Row:
    return Row(
        name,
        rows=confusion.tp + confusion.tn + confusion.fp + confusion.fn,
        f1=confusion.f1,
        far=confusion.far_percent,
        mar=confusion.mar_percent,
        published=published,
    )


def format_rows(rows: list[Row]) -> str:
    def cell(value: float | int | None, digits: int) -> str:
        if value is None:
            return ""
        return f"{value:,}" if isinstance(value, int) else f"{value:.{digits}f}"

    lines = [COLUMNS] + [
        (
            r.dataset,
            cell(r.rows, 0),
            cell(r.f1, 3),
            cell(r.far, 2),
            cell(r.mar, 2),
            cell(r.nab, 2),
            r.published,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    rendered = [
        "| "
        + " | ".join(value.ljust(width) for value, width in zip(line, widths, strict=True))
        + " |"
        for line in lines
    ]
    rendered.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(rendered)


def direct_episodes(file: SkabFile, config: DetectorConfig) -> list[tuple[str, int, int, int]]:
    detector = StreamingAnomalyDetector(SKAB_SIGNALS, config)
    episodes = MachineEpisodes(EPISODE_QUIET_PERIOD_MS, threshold_on=config.threshold_on)
    final: dict[tuple[str, int], tuple[str, int, int, int]] = {}
    for event in episodes.update(detector.update(file.timestamps, file.values)):
        e = event.episode
        final[(e.kind, e.episode_id)] = (e.kind, e.start_ms, e.end_ms, e.rows)
    for tracker in (episodes.anomalies, episodes.data_quality):
        if tracker.current is not None:
            e = tracker.current
            final[(e.kind, e.episode_id)] = (e.kind, e.start_ms, e.end_ms, e.rows)
    return sorted(final.values())


def replayed_rows(
    datasets_dir: Path, config: DetectorConfig, *, direct: dict[str, npt.NDArray[np.bool_]]
) -> list[Row]:
    """SKAB through the platform, compared with the direct run's flags (``direct``)."""
    files = load_skab(datasets_dir)
    predictions = {}
    same_flags = same_episodes = 0
    with embedded_platform() as (api_url, device_link):
        replay = PlatformReplay(api_url=api_url, device_link=device_link)
        for number, file in enumerate(files, start=1):
            replayed = replay.replay(file)
            predictions[file.name] = replayed.flags
            same_flags += np.array_equal(replayed.flags, direct[file.name])
            same_episodes += replayed.episodes == direct_episodes(file, config)
            say(f"  replayed {number}/{len(files)} {file.name} through the platform")
    metrics = score_skab(files, predictions)
    return [
        _skab_row(
            "SKAB, all 30 files, replayed through the platform",
            metrics.outliers,
            f"same as direct: {same_flags}/{len(files)} files row by row, "
            f"{same_episodes}/{len(files)} episodes",
        )
    ]


@contextmanager
def embedded_platform() -> Iterator[tuple[str, str]]:
    """`imcloud up` in a child process, on free ports and a scratch data dir."""
    import socket

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    http, link = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="imcloud-eval-") as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMCLOUD_")}
        env |= {
            "IMCLOUD_DATA_DIR": data,
            "IMCLOUD_LOG_LEVEL": "WARNING",
            "IMCLOUD_GATEWAY__HTTP_PORT": str(http),
            "IMCLOUD_GATEWAY__MQTT_ENABLED": "false",
            "IMCLOUD_GATEWAY_GRPC__BIND": f"127.0.0.1:{link}",
            "IMCLOUD_GATEWAY_GRPC__TARGET": f"127.0.0.1:{link}",
        }
        for service in ("products", "production", "servitization"):
            port = free_port()
            env[f"IMCLOUD_{service.upper()}_GRPC__BIND"] = f"127.0.0.1:{port}"
            env[f"IMCLOUD_{service.upper()}_GRPC__TARGET"] = f"127.0.0.1:{port}"
        log = Path(data) / "platform.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "imcloud_platform.cli", "up"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                api_url = f"http://127.0.0.1:{http}"
                _wait_until_ready(api_url, process, log)
                say(f"embedded platform up at {api_url}")
                yield api_url, f"127.0.0.1:{link}"
            finally:
                process.terminate()
                process.wait(timeout=30)


def _wait_until_ready(api_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the platform exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{api_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the platform was not ready within 60 s")
