"""A CNC control's OPC UA server (asyncua's), run as its own process so that a test
can kill it the way a control dies: `python -m tests.integration.sdk.cnc_control
PORT RECORD`. It changes its spindle's values every 50 ms and appends each
(node, source time in ms, value) to RECORD as a JSON line before it publishes it, so
the record holds everything a client can have received; it prints `ready` once it
serves."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from asyncua import Server, ua

NAMESPACE = "urn:example:cnc"
WRITE_EVERY_S = 0.05
SPINDLE = ("ns=2;s=Spindle.Speed", "ns=2;s=Spindle.Temperature")
PROGRAM = "ns=2;s=Program.Name"


async def serve(port: int, record: TextIO) -> None:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}")
    index = await server.register_namespace(NAMESPACE)
    cnc = await server.get_objects_node().add_object(index, "CNC")
    variables = [await cnc.add_variable(node, node.split("=")[-1], 0.0) for node in SPINDLE]
    await cnc.add_variable(PROGRAM, "Program.Name", "O1234 HOUSING")
    async with server:
        print("ready", flush=True)
        step = 0
        while True:
            step += 1
            for variable, node in zip(variables, SPINDLE, strict=True):
                value = float(step if node.endswith("Speed") else 20 + step / 10)
                now = datetime.now(UTC)
                record.write(json.dumps([node, round(now.timestamp() * 1000), value]) + "\n")
                record.flush()
                await variable.write_value(
                    ua.DataValue(ua.Variant(value, ua.VariantType.Double), SourceTimestamp=now)
                )
            await asyncio.sleep(WRITE_EVERY_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("record", type=Path)
    args = parser.parse_args()
    with args.record.open("a") as record:
        asyncio.run(serve(args.port, record))


if __name__ == "__main__":
    main()
