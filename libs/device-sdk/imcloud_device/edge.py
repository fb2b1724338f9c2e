"""`imcloud-edge`: a machine's OPC UA server, through the device link.

PLCs and CNC controls publish their values on OPC UA. The edge subscribes to the
nodes a mapping file names (asyncua) and records each change with its source
timestamp in a DeviceClient, so the SDK's buffering, resend and exactly-once
acknowledgement carry them to imcloud. asyncua reconnects to the OPC UA server and
recreates the subscription after a loss; the device link reconnects on its own.

    # cnc-7.toml
    endpoint = "opc.tcp://192.168.0.20:4840"
    publishing_interval_ms = 500

    [[signals]]
    node = "ns=2;s=Spindle.Speed"
    signal = "spindle_speed"

    IMCLOUD_DEVICE_CREDENTIAL=imd_... imcloud-edge cnc-7.toml --device-link host:50050
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import signal
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

try:
    from asyncua import ua
    from asyncua.client.client import Client
    from asyncua.ua.uaerrors import UaStatusCodeError, UaStringParsingError
except ModuleNotFoundError as missing:  # the SDK's optional "opcua" extra
    raise ModuleNotFoundError(
        "imcloud-edge needs asyncua: pip install 'imcloud-device-sdk[opcua]'"
    ) from missing

from imcloud_device.backoff import Backoff
from imcloud_device.client import DeviceClient

log = logging.getLogger("imcloud_device.edge")
DEFAULT_PUBLISHING_INTERVAL_MS = 500
# The fastest an OPC UA server is asked to report; faster is a mapping mistake.
MIN_PUBLISHING_INTERVAL_MS = 10
REPORT_EVERY_S = 10.0
EXIT_BAD_SETUP = 2


class MappingError(ValueError):
    """A mapping file that cannot be used, naming the entry at fault."""


@dataclass(frozen=True)
class SignalMapping:
    node: str
    signal: str


@dataclass(frozen=True)
class EdgeMapping:
    endpoint: str
    signals: tuple[SignalMapping, ...]
    publishing_interval_ms: int = DEFAULT_PUBLISHING_INTERVAL_MS


def load_mapping(path: Path) -> EdgeMapping:
    """The mapping in ``path`` (TOML); a problem names its key, e.g. ``signals[2].node``."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise MappingError(f"{path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: not TOML: {exc}") from None
    endpoint = document.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("opc.tcp://"):
        raise MappingError(f"{path}: endpoint: an opc.tcp:// address is needed")
    interval = document.get("publishing_interval_ms", DEFAULT_PUBLISHING_INTERVAL_MS)
    if type(interval) is not int or interval < MIN_PUBLISHING_INTERVAL_MS:
        raise MappingError(
            f"{path}: publishing_interval_ms: a whole number of at least "
            f"{MIN_PUBLISHING_INTERVAL_MS} is needed"
        )
    entries = document.get("signals")
    if not isinstance(entries, list) or not entries:
        raise MappingError(f"{path}: signals: at least one [[signals]] entry is needed")
    signals = []
    for index, entry in enumerate(entries):
        where = f"{path}: signals[{index}]"
        if not isinstance(entry, dict):
            raise MappingError(f"{where}: a table with node and signal is needed")
        for key in ("node", "signal"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise MappingError(f"{where}.{key}: a non-empty string is needed")
        unknown = sorted(set(entry) - {"node", "signal"})
        if unknown:
            raise MappingError(f"{where}: unknown keys {', '.join(unknown)}")
        signals.append(SignalMapping(node=entry["node"].strip(), signal=entry["signal"].strip()))
    for key in ("node", "signal"):
        names = [getattr(s, key) for s in signals]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise MappingError(f"{path}: signals: {key} {repeated[0]!r} is mapped twice")
    return EdgeMapping(endpoint=endpoint, signals=tuple(signals), publishing_interval_ms=interval)


@dataclass
class EdgeCounts:
    forwarded: int = 0
    # Changes whose value is no number (a string, a status without value).
    skipped: int = 0
    skipped_nodes: set[str] = field(default_factory=set)


class _Forwarder:
    """asyncua's subscription handler: every change of a mapped node to the device link."""

    def __init__(self, device: DeviceClient, signals: dict[str, str], counts: EdgeCounts) -> None:
        self._device = device
        self._signals = signals
        self._counts = counts

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        node_id = node.nodeid.to_string()
        value = _number(val)
        if value is None:
            self._counts.skipped += 1
            if node_id not in self._counts.skipped_nodes:
                self._counts.skipped_nodes.add(node_id)
                log.warning("node %s reported %r, which is no number: not forwarded", node_id, val)
            return
        reported = data.monitored_item.Value
        stamp = reported.SourceTimestamp or reported.ServerTimestamp
        self._device.record(
            self._signals[node_id],
            value,
            timestamp_ms=round(stamp.timestamp() * 1000) if isinstance(stamp, datetime) else None,
        )
        self._counts.forwarded += 1


def _number(value: Any) -> float | None:
    if isinstance(value, bool | int | float) and math.isfinite(value):
        return float(value)
    return None


async def _subscribe(
    client: Any, mapping: EdgeMapping, device: DeviceClient, counts: EdgeCounts
) -> None:
    """Checks every mapped node is a variable on the server, then subscribes to them all."""
    nodes = []
    for index, entry in enumerate(mapping.signals):
        where = f"signals[{index}].node"
        try:
            node = client.get_node(entry.node)
            node_class = await node.read_node_class()
        except UaStatusCodeError as exc:
            raise MappingError(f"{where}: {entry.node} is not on the server ({exc})") from None
        except (ValueError, UaStringParsingError) as exc:
            raise MappingError(f"{where}: {entry.node!r} is no OPC UA node id ({exc})") from None
        if node_class != ua.NodeClass.Variable:
            raise MappingError(f"{where}: {entry.node} is a {node_class.name}, not a variable")
        nodes.append(node)
    # Changes name their node as the server writes its id, whichever way the mapping did.
    signals = {
        node.nodeid.to_string(): entry.signal
        for node, entry in zip(nodes, mapping.signals, strict=True)
    }
    handler = _Forwarder(device, signals, counts)
    subscription = await client.create_subscription(mapping.publishing_interval_ms, handler)
    await subscription.subscribe_data_change(nodes)


async def run_edge(
    mapping: EdgeMapping,
    device: DeviceClient,
    stop: asyncio.Event,
    *,
    counts: EdgeCounts | None = None,
    report_every_s: float = REPORT_EVERY_S,
) -> EdgeCounts:
    """Forwards the mapped nodes' changes until ``stop`` is set; a server that is not
    there yet is tried again with backoff, and a lost one is reconnected by asyncua."""
    counts = counts or EdgeCounts()
    backoff = Backoff(initial_s=0.5, max_s=10.0)
    while not stop.is_set():
        client = Client(mapping.endpoint, auto_reconnect=True, reconnect_max_delay=10.0)
        try:
            await client.connect()
        except OSError as exc:  # refused, timed out, or lost on the way
            delay = backoff.next_delay_s()
            log.warning(
                "OPC UA server %s: %s; trying again in %.1f s", mapping.endpoint, exc, delay
            )
            await _wait(stop, delay)
            continue
        backoff.reset()
        try:
            await _subscribe(client, mapping, device, counts)
            log.info("subscribed to %d nodes of %s", len(mapping.signals), mapping.endpoint)
            while not await _wait(stop, report_every_s):
                _report(counts, device)
            return counts
        finally:
            await client.disconnect()
    return counts


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """True once ``stop`` is set, False after ``seconds`` without it."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


def _report(counts: EdgeCounts, device: DeviceClient) -> None:
    stats = device.stats()
    print(
        f"edge: {counts.forwarded} values forwarded, {counts.skipped} not numbers; device link "
        f"{'connected' if stats.connected else 'reconnecting'}: accepted {stats.points_accepted}, "
        f"refused {stats.points_refused}, buffered {stats.points_buffered}",
        flush=True,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imcloud-edge",
        description="Forward a machine's OPC UA values to imcloud through the device link. "
        "The machine's device credential (imd_...) is read from IMCLOUD_DEVICE_CREDENTIAL.",
    )
    parser.add_argument("mapping", type=Path, help="the TOML file mapping OPC UA nodes to signals")
    parser.add_argument(
        "--device-link",
        default=os.environ.get("IMCLOUD_DEVICE_LINK", "127.0.0.1:50050"),
        help="the gateway's device link, host:port (default: $IMCLOUD_DEVICE_LINK or "
        "127.0.0.1:50050)",
    )
    parser.add_argument(
        "--report-every", type=float, default=REPORT_EVERY_S, help="seconds between progress lines"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # asyncua logs every reconnect attempt's stack; its outcome is logged here.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    credential = os.environ.get("IMCLOUD_DEVICE_CREDENTIAL", "")
    try:
        mapping = load_mapping(args.mapping)
        if not credential:
            raise MappingError("IMCLOUD_DEVICE_CREDENTIAL: the machine's credential is needed")
    except MappingError as exc:
        print(f"imcloud-edge: {exc}", file=sys.stderr)
        return EXIT_BAD_SETUP
    device = DeviceClient(args.device_link, credential).start()
    counts = EdgeCounts()
    try:
        asyncio.run(_until_signalled(mapping, device, counts, args.report_every))
    except MappingError as exc:
        print(f"imcloud-edge: {args.mapping}: {exc}", file=sys.stderr)
        return EXIT_BAD_SETUP
    finally:
        started = time.monotonic()
        delivered = device.flush(timeout_s=10.0)
        device.close()
        _report(counts, device)
        if not delivered:
            print(
                f"imcloud-edge: {device.stats().points_buffered} points not delivered after "
                f"{time.monotonic() - started:.0f} s",
                file=sys.stderr,
            )
    return 0


async def _until_signalled(
    mapping: EdgeMapping, device: DeviceClient, counts: EdgeCounts, report_every_s: float
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_edge(mapping, device, stop, counts=counts, report_every_s=report_every_s)


if __name__ == "__main__":
    sys.exit(main())
