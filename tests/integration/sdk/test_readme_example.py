"""The SDK README's example runs as written against the platform."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.support.platform import RunningPlatform
from tests.support.world import onboard

README = REPO / "libs" / "device-sdk" / "README.md"


def test_the_readme_example_streams_and_everything_is_accepted(
    embedded_platform: RunningPlatform, tmp_path: Path
) -> None:
    [example] = [
        block
        for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
        if block.startswith('"""machine.py')
    ]
    script = tmp_path / "machine.py"
    script.write_text(example)
    world = onboard(embedded_platform.base_url, "README maker", machines=1)  # the same model
    result = subprocess.run(
        [sys.executable, str(script)],
        env={
            "IMCLOUD_DEVICE_LINK": embedded_platform.device_link,
            "IMCLOUD_DEVICE_CREDENTIAL": world.device_secrets[world.ids["equipment_id"]],
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "delivered: True; recorded 300, accepted 300, refused 0, dropped 0" in result.stdout
