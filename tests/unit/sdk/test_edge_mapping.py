"""The edge's mapping file: a usable one loads, and each mistake names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from imcloud_device.edge import EdgeMapping, MappingError, SignalMapping, load_mapping

GOOD = """
endpoint = "opc.tcp://cnc-7:4840"
publishing_interval_ms = 250

[[signals]]
node = "ns=2;s=Spindle.Speed"
signal = "spindle_speed"

[[signals]]
node = "ns=2;i=1042"
signal = "spindle_temperature"
"""


def test_a_mapping_loads_with_its_nodes_in_order(tmp_path: Path) -> None:
    path = tmp_path / "cnc.toml"
    path.write_text(GOOD)
    assert load_mapping(path) == EdgeMapping(
        endpoint="opc.tcp://cnc-7:4840",
        publishing_interval_ms=250,
        signals=(
            SignalMapping("ns=2;s=Spindle.Speed", "spindle_speed"),
            SignalMapping("ns=2;i=1042", "spindle_temperature"),
        ),
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("endpoint = ", "not TOML"),
        (GOOD.replace("opc.tcp://", "http://"), "endpoint: an opc.tcp:// address"),
        (GOOD.replace("250", "5"), "publishing_interval_ms: a whole number of at least 10"),
        (GOOD.replace("250", '"fast"'), "publishing_interval_ms"),
        ('endpoint = "opc.tcp://x:4840"', "signals: at least one"),
        (GOOD.replace('signal = "spindle_speed"', 'signal = ""'), "signals[0].signal"),
        (GOOD.replace('node = "ns=2;i=1042"', "node = 1042"), "signals[1].node"),
        (
            GOOD.replace("spindle_temperature", "spindle_speed"),
            "signal 'spindle_speed' is mapped twice",
        ),
        (
            GOOD.replace("ns=2;i=1042", "ns=2;s=Spindle.Speed"),
            "node 'ns=2;s=Spindle.Speed' is mapped twice",
        ),
        (GOOD + "scale = 2\n", "signals[1]: unknown keys scale"),
    ],
)
def test_a_mistake_is_named_by_its_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "cnc.toml"
    path.write_text(text)
    with pytest.raises(MappingError) as refused:
        load_mapping(path)
    assert named in str(refused.value)
    assert str(path) in str(refused.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="No such file"):
        load_mapping(tmp_path / "absent.toml")
