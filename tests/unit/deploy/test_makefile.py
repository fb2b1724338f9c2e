"""`make help` lists every documented target (the README sends people there)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_make_help_lists_every_documented_target() -> None:
    makefile = (REPO / "Makefile").read_text()
    documented = re.findall(r"^([A-Za-z0-9_-]+):[^\n]*## ", makefile, re.MULTILINE)
    assert "k8s-tools" in documented  # a name with a digit, once hidden by `make help`
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = [line.split()[0] for line in shown.splitlines() if line.strip()]
    assert listed == documented
