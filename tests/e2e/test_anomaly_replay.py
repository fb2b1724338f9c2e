"""SKAB replayed through the distributed platform (SDK -> gateway -> Kafka ->
products on PostgreSQL): the same scores and episodes as the detector run
directly, even when the products service crashes in the middle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imcloud_products.domain.anomaly import DetectorConfig
from imcloud_products.evaluation.datasets import load_skab
from imcloud_products.evaluation.replay import PlatformReplay
from imcloud_products.evaluation.report import direct_episodes
from imcloud_products.evaluation.skab import detect_skab_file
from tests.support.platform import RunningPlatform

FILES = ("other/5.csv", "valve1/3.csv", "other/14.csv")


def test_replay_scores_like_the_direct_run_through_a_crash(
    distributed_platform: RunningPlatform, datasets_dir: Path
) -> None:
    config = DetectorConfig()
    files = [f for f in load_skab(datasets_dir) if f.name in FILES]
    replay = PlatformReplay(
        api_url=distributed_platform.base_url,
        device_link=distributed_platform.device_link,
    )
    machines = [replay.register(file) for file in files]
    halves = [len(file.timestamps) // 2 for file in files]
    for machine, half in zip(machines, halves, strict=True):
        replay.stream(machine, range(half))
    # The service holding every machine's detector state dies mid-replay.
    distributed_platform.kill_and_restart("products")
    for machine, half in zip(machines, halves, strict=True):
        replay.stream(machine, range(half, len(machine.file.timestamps)))

    for file, machine in zip(files, machines, strict=True):
        replayed = replay.results(machine)
        assert np.array_equal(replayed.flags, detect_skab_file(file, config)), file.name
        assert replayed.episodes == direct_episodes(file, config), file.name
        assert replayed.episodes, f"{file.name}: expected at least one episode"
