"""A lean telemetry load generator: many device-link streams from one process.

It sends prebuilt columnar batches as fast as acknowledgements allow, so the
platform, not the generator, is what the benchmark measures.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from imcloud.products.v1 import telemetry_pb2 as telemetry


@dataclass
class StreamResult:
    batches: int = 0
    points: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)


def run_stream(
    target: str,
    credential: str,
    signals: list[str],
    *,
    points_per_signal: int,
    start_ms: int,
    batches: int,
    in_flight: int,
    result: StreamResult,
    points_per_s: float = 0.0,
) -> None:
    """Sends ``batches`` batches; timestamps advance 1 ms per point, never repeating.

    With ``points_per_s`` the stream is paced to that rate; otherwise it sends as
    fast as acknowledgements come back.
    """
    window = threading.Semaphore(in_flight)
    batch_points = points_per_signal * len(signals)

    def requests() -> Iterator[pb.ConnectRequest]:
        due = time.perf_counter()
        for number in range(batches):
            if points_per_s:
                time.sleep(max(0.0, due - time.perf_counter()))
                due += batch_points / points_per_s
            window.acquire()
            first = start_ms + number * points_per_signal
            stamps = list(range(first, first + points_per_signal))
            yield pb.ConnectRequest(
                telemetry=telemetry.TelemetryBatch(
                    sequence_id=number,
                    series=[
                        telemetry.SignalSeries(
                            signal=name,
                            timestamps_ms=stamps,
                            values=[float(i % 97) for i in range(points_per_signal)],
                        )
                        for name in signals
                    ],
                )
            )

    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.DeviceLinkServiceStub(channel)
        try:
            for response in stub.Connect(
                requests(), metadata=[("authorization", f"Bearer {credential}")]
            ):
                result.batches += 1
                result.points += response.ack.accepted_points
                result.refused += sum(r.points for r in response.ack.refusals)
                window.release()
        except grpc.RpcError as error:
            result.errors.append(f"{error.code()}: {error.details()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument(
        "--machines",
        type=json.loads,
        required=True,
        help='JSON list of {"credential": ..., "signals": [...]}',
    )
    parser.add_argument("--points-per-signal", type=int, default=500)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--start-ms", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="points/s in all; 0: flat out")
    args = parser.parse_args()
    results = [StreamResult() for _ in args.machines]
    threads = [
        threading.Thread(
            target=run_stream,
            args=(args.target, m["credential"], m["signals"]),
            kwargs={
                "points_per_signal": args.points_per_signal,
                "start_ms": args.start_ms,
                "batches": args.batches,
                "in_flight": args.in_flight,
                "result": result,
                "points_per_s": args.rate / len(args.machines),
            },
        )
        for m, result in zip(args.machines, results, strict=True)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "points": sum(r.points for r in results),
                "refused": sum(r.refused for r in results),
                "batches": sum(r.batches for r in results),
                "errors": [e for r in results for e in r.errors],
            }
        )
    )


if __name__ == "__main__":
    main()
