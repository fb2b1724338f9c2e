"""Loaders for the labelled benchmark data in shared/datasets (see its README.md).

Plain csv + numpy: timestamps become int64 milliseconds (naive, as written in
the files), values float64.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SKAB_SIGNALS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
NAB_CATEGORY = "realKnownCause"
NAB_FILES = (
    "machine_temperature_system_failure.csv",
    "ambient_temperature_system_failure.csv",
    "cpu_utilization_asg_misconfiguration.csv",
)


def parse_timestamps_ms(texts: list[str]) -> npt.NDArray[np.int64]:
    """'YYYY-MM-DD hh:mm:ss[.ffffff]' strings to int64 milliseconds."""
    stamps = np.array([text.strip().replace(" ", "T") for text in texts], dtype="datetime64[ms]")
    return stamps.astype(np.int64)


@dataclass(frozen=True)
class SkabFile:
    name: str  # relative to the skab folder, e.g. "valve1/3.csv"
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]  # (rows, 8), columns in SKAB_SIGNALS order
    anomaly: npt.NDArray[np.bool_]
    changepoint: npt.NDArray[np.bool_]

    @property
    def category(self) -> str:
        return self.name.split("/")[0]


@dataclass(frozen=True)
class NabFile:
    name: str  # NAB's key, e.g. "realKnownCause/machine_temperature_system_failure.csv"
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]  # (rows,)
    windows: tuple[tuple[int, int], ...]  # inclusive [start, end] in ms, sorted


def _skab_root(dataset_dir: str | Path) -> Path:
    root = Path(dataset_dir)
    return root / "skab" if (root / "skab").is_dir() else root


def _nab_root(dataset_dir: str | Path) -> Path:
    root = Path(dataset_dir)
    return root / "nab" if (root / "nab").is_dir() else root


def _read_skab_csv(path: Path) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    header, body = rows[0], [row for row in rows[1:] if row]
    stamps = parse_timestamps_ms([row[0] for row in body])
    table = np.array([[float(cell) for cell in row[1:]] for row in body], dtype=np.float64)
    return header[1:], stamps, table


def load_skab(dataset_dir: str | Path) -> list[SkabFile]:
    """Every labelled SKAB file (anomaly-free.csv excluded), sorted by name."""
    root = _skab_root(dataset_dir)
    files = []
    for path in sorted(root.glob("*/*.csv")):
        if path.parent.name == "anomaly-free":
            continue
        columns, stamps, table = _read_skab_csv(path)
        signal_columns = [columns.index(name) for name in SKAB_SIGNALS]
        files.append(
            SkabFile(
                name=f"{path.parent.name}/{path.name}",
                timestamps=stamps,
                values=np.ascontiguousarray(table[:, signal_columns]),
                anomaly=table[:, columns.index("anomaly")] == 1.0,
                changepoint=table[:, columns.index("changepoint")] == 1.0,
            )
        )
    if not files:
        raise FileNotFoundError(f"no labelled SKAB files under {root}")
    return sorted(files, key=lambda f: _natural_key(f.name))


def _natural_key(name: str) -> tuple[str, int]:
    folder, file = name.split("/")
    stem = file.removesuffix(".csv")
    return folder, int(stem) if stem.isdigit() else -1


def load_nab(dataset_dir: str | Path, files: tuple[str, ...] = NAB_FILES) -> list[NabFile]:
    """The NAB files with their label windows (labels/combined_windows.json)."""
    root = _nab_root(dataset_dir)
    with (root / "labels" / "combined_windows.json").open() as handle:
        all_windows = json.load(handle)
    loaded = []
    for file in files:
        key = f"{NAB_CATEGORY}/{file}"
        with (root / "data" / NAB_CATEGORY / file).open(newline="") as handle:
            rows = [row for row in csv.reader(handle) if row][1:]
        stamps = parse_timestamps_ms([row[0] for row in rows])
        values = np.array([float(row[1]) for row in rows], dtype=np.float64)
        windows = tuple(
            sorted(
                (int(parse_timestamps_ms([start])[0]), int(parse_timestamps_ms([end])[0]))
                for start, end in all_windows[key]
            )
        )
        loaded.append(NabFile(name=key, timestamps=stamps, values=values, windows=windows))
    return loaded
