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
from pathlib import Path

import httpx
import numpy as np

from imcloud_platform.replay import PlatformReplay
from imcloud_products.domain.anomaly import (
    DetectorConfig,
    MachineEpisodes,
    StreamingAnomalyDetector,
)
from imcloud_products.domain.monitoring import EPISODE_QUIET_PERIOD_MS
from imcloud_products.evaluation.datasets import SKAB_SIGNALS, SkabFile, load_skab
from imcloud_products.evaluation.harness import ResultRow, format_table, nab_rows, skab_rows
from imcloud_products.evaluation.nab import NAB_DETECTOR_CONFIG
from imcloud_products.evaluation.skab import detect_skab_file, score_skab
from imcloud_products.evaluation.throughput import measure_throughput

DEFAULT_DATASETS = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def evaluate(datasets_dir: Path, *, through_platform: bool) -> str:
    config = DetectorConfig()
    say(f"SKAB and NAB, directly, with the production configuration ({datasets_dir})")
    rows = skab_rows(datasets_dir, config) + nab_rows(datasets_dir, config)
    tuned = nab_rows(datasets_dir, NAB_DETECTOR_CONFIG)
    rows += [
        ResultRow(r.benchmark, f"{r.subset}, tuned on these files (optimistic)", r.metric, r.value)
        for r in tuned
    ]
    measured = measure_throughput()
    rows.append(
        ResultRow(
            "detector throughput",
            f"{measured.machines} machines x {measured.signals} signals, one core",
            "points/s",
            measured.points_per_second,
            "need 100000",
        )
    )
    if through_platform:
        rows += replayed_rows(datasets_dir, config)
    return format_table(rows)


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


def replayed_rows(datasets_dir: Path, config: DetectorConfig) -> list[ResultRow]:
    files = load_skab(datasets_dir)
    predictions = {}
    same_flags = same_episodes = 0
    with embedded_platform() as (api_url, device_link):
        replay = PlatformReplay(api_url=api_url, device_link=device_link)
        for number, file in enumerate(files, start=1):
            replayed = replay.replay(file)
            predictions[file.name] = replayed.flags
            same_flags += np.array_equal(replayed.flags, detect_skab_file(file, config))
            same_episodes += replayed.episodes == direct_episodes(file, config)
            say(f"  replayed {number}/{len(files)} {file.name} through the platform")
    metrics = score_skab(files, predictions)
    subset = "through the platform (SDK, gateway, bus, products)"
    return [
        ResultRow("SKAB outliers", subset, "F1", metrics.outliers.f1),
        ResultRow("SKAB outliers", subset, "FAR %", metrics.outliers.far_percent),
        ResultRow("SKAB outliers", subset, "MAR %", metrics.outliers.mar_percent),
        ResultRow(
            "SKAB replay", subset, "files scored identically", float(same_flags), f"of {len(files)}"
        ),
        ResultRow(
            "SKAB replay",
            subset,
            "files with identical episodes",
            float(same_episodes),
            f"of {len(files)}",
        ),
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
