"""An in-process DeviceLinkService for the SDK's tests: a real gRPC server on a
free port whose answers each test scripts (ack, hold the ack, drop the stream,
refuse the credential, send commands)."""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import grpc

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from imcloud.products.v1 import telemetry_pb2
from tests.support.waiting import wait_for

GOOD_CREDENTIAL = "imd_good"
Decision = Literal["ack", "hold", "drop", "revoke"]
# (stream number from 0, batch number on that stream from 0) -> what to do with the batch
Policy = Callable[[int, int], Decision]


def always_ack(stream: int, batch: int) -> Decision:
    return "ack"


@dataclass
class Stream:
    number: int
    credential: str
    batches: list[telemetry_pb2.TelemetryBatch] = field(default_factory=list)
    outbox: queue.SimpleQueue[pb.ConnectResponse | grpc.StatusCode | None] = field(
        default_factory=queue.SimpleQueue
    )


def ack_for(batch: telemetry_pb2.TelemetryBatch) -> pb.BatchAck:
    """Accepts finite points and refuses the rest, as the platform would."""
    ack = pb.BatchAck(sequence_id=batch.sequence_id)
    for series in batch.series:
        bad = sum(1 for v in series.values if not math.isfinite(v))
        ack.accepted_points += len(series.values) - bad
        if bad:
            ack.refusals.append(
                pb.Refusal(
                    signal=series.signal,
                    reason=pb.REFUSAL_REASON_NOT_FINITE,
                    points=bad,
                    detail="NaN or infinite",
                )
            )
    return ack


class FakeDeviceLink(pb_grpc.DeviceLinkServiceServicer):
    def __init__(self) -> None:
        self.policy: Policy = always_ack
        self.credentials = {GOOD_CREDENTIAL}
        self.commands_on_connect: list[pb.Command] = []
        self.streams: list[Stream] = []
        self.results: list[pb.CommandResult] = []
        # Command receipts and results in the order they came up the streams.
        self.command_replies: list[pb.CommandReceipt | pb.CommandResult] = []
        self.held: list[tuple[Stream, pb.BatchAck]] = []
        self.refused_connections = 0
        self._lock = threading.Lock()

    # -- what tests look at --------------------------------------------------------

    def batches(self) -> list[telemetry_pb2.TelemetryBatch]:
        with self._lock:
            return [b for s in self.streams for b in s.batches]

    def points(self) -> set[tuple[str, int, float]]:
        """Every distinct point received: the platform stores each once."""
        return {
            (s.signal, t, v)
            for b in self.batches()
            for s in b.series
            for t, v in zip(s.timestamps_ms, s.values, strict=True)
        }

    def release_held(self) -> None:
        """Acknowledges the held batches (on their stream, in order)."""
        with self._lock:
            held, self.held = self.held, []
        for stream, ack in held:
            stream.outbox.put(pb.ConnectResponse(ack=ack))

    def wait_for_batches(self, count: int, timeout_s: float = 10) -> None:
        wait_for(lambda: len(self.batches()) >= count, timeout_s=timeout_s, what=f"{count} batches")

    # -- the service -------------------------------------------------------------

    def Connect(  # noqa: N802 - gRPC method names are PascalCase
        self, request_iterator: Iterator[pb.ConnectRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ConnectResponse]:
        credential = dict(context.invocation_metadata()).get("authorization", "")
        credential = str(credential).removeprefix("Bearer ")
        if credential not in self.credentials:
            with self._lock:
                self.refused_connections += 1
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown or revoked credential")
        with self._lock:
            stream = Stream(len(self.streams), credential)
            self.streams.append(stream)
        threading.Thread(target=self._read, args=(stream, request_iterator), daemon=True).start()
        for command in self.commands_on_connect:
            yield pb.ConnectResponse(command=command)
        while (item := stream.outbox.get()) is not None:
            if isinstance(item, grpc.StatusCode):
                context.abort(item, "the fake link dropped the stream")
            yield item

    def _read(self, stream: Stream, requests: Iterator[pb.ConnectRequest]) -> None:
        try:
            for request in requests:
                if request.HasField("command_receipt"):
                    with self._lock:
                        self.command_replies.append(request.command_receipt)
                    continue
                if request.HasField("command_result"):
                    with self._lock:
                        self.results.append(request.command_result)
                        self.command_replies.append(request.command_result)
                    continue
                with self._lock:
                    index = len(stream.batches)
                    stream.batches.append(request.telemetry)
                decision = self.policy(stream.number, index)
                ack = ack_for(request.telemetry)
                if decision == "ack":
                    stream.outbox.put(pb.ConnectResponse(ack=ack))
                elif decision == "hold":
                    with self._lock:
                        self.held.append((stream, ack))
                elif decision == "drop":
                    stream.outbox.put(grpc.StatusCode.UNAVAILABLE)
                    return
                else:
                    self.credentials.discard(stream.credential)
                    stream.outbox.put(grpc.StatusCode.UNAUTHENTICATED)
                    return
        except grpc.RpcError:
            pass  # the client went away
        finally:
            stream.outbox.put(None)


class FakeServer:
    """A real gRPC server with the fake link, on 127.0.0.1 (a free port unless given)."""

    def __init__(self, link: FakeDeviceLink, port: int = 0) -> None:
        self.link = link
        self._server = grpc.server(ThreadPoolExecutor(max_workers=16))
        pb_grpc.add_DeviceLinkServiceServicer_to_server(link, self._server)
        self.port = self._server.add_insecure_port(f"127.0.0.1:{port}")
        self.target = f"127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None).wait()
