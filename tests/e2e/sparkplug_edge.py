"""A Sparkplug B edge node with one device, built with pysparkplug (a maintained
library nobody here wrote), for test_sparkplug.py. It runs in the environment
infra/test-tools.sh makes for it (pysparkplug needs paho-mqtt 1), so it imports
nothing of imcloud.

    python sparkplug_edge.py PORT GROUP EDGE DEVICE BIRTH_JSON   (IMCLOUD_DEVICE_CREDENTIAL)

BIRTH_JSON: {"metric": [value, timestamp_ms], ...} (numbers as doubles, strings as
strings). It reads one JSON instruction a line from stdin: {"update": {metric:
[value, timestamp_ms]}}, {"deregister": true} (DDEATH) or {"quit": true}; it prints
each command it receives as a JSON line: {"topic": ..., "metrics": {name: value}}.
"""

import json
import os
import sys

import pysparkplug as spb


def metric(name, value, stamp):
    datatype = spb.DataType.STRING if isinstance(value, str) else spb.DataType.DOUBLE
    return spb.Metric(timestamp=stamp, name=name, datatype=datatype, value=value)


def print_command(_edge, message):
    metrics = {m.name: m.value for m in message.payload.metrics}
    print(json.dumps({"topic": str(message.topic), "metrics": metrics}), flush=True)


def main():
    port, group, edge_id, device_id, birth = sys.argv[1:6]
    metrics = [metric(name, *point) for name, point in json.loads(birth).items()]
    device = spb.Device(device_id, metrics=metrics, cmd_callback=print_command)
    client = spb.Client(username="machine", password=os.environ["IMCLOUD_DEVICE_CREDENTIAL"])
    edge = spb.EdgeNode(group, edge_id, metrics=[], client=client)
    edge.register(device)
    edge.connect("127.0.0.1", port=int(port), blocking=False)
    print(json.dumps({"started": True}), flush=True)
    for line in sys.stdin:
        instruction = json.loads(line)
        if "update" in instruction:
            points = instruction["update"].items()
            edge.update_device(device_id, [metric(name, *point) for name, point in points])
        elif instruction.get("deregister"):
            edge.deregister(device_id)
        elif instruction.get("quit"):
            break
    edge.disconnect()


if __name__ == "__main__":
    main()
