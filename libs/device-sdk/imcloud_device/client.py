"""DeviceClient: a machine's link to imcloud.

The machine's control loop calls ``record`` (or ``record_many``,
``record_snapshot``); those only append to a bounded local buffer and return.
A background thread keeps one bidirectional ``DeviceLinkService.Connect`` stream
open, sends the buffered points as ``TelemetryBatch``es with increasing
sequence ids, and matches the platform's acknowledgements (one per batch, in
order) to them.

Delivery is at least once: a batch not yet acknowledged when the link drops is
sent again, with the same sequence id, once the link is back; the platform
stores each point once, so a resend never duplicates data. While the platform
cannot be reached the buffer keeps filling up to its limit, then the oldest
points are dropped and counted. A refused credential (revoked or rotated)
stops the client: retrying would never succeed.
"""

from __future__ import annotations

import logging
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import grpc

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from imcloud.products.v1 import telemetry_pb2
from imcloud_device.backoff import Backoff
from imcloud_device.buffer import PointBuffer
from imcloud_device.commands import CommandHandler, CommandRunner
from imcloud_device.desired import DesiredHandler, DesiredStateRunner
from imcloud_device.errors import AuthenticationError, ConnectionLostError, DeviceLinkError
from imcloud_device.stats import DeviceStats, Refusal

log = logging.getLogger("imcloud_device")

VERSION = "0.1.0"
# The platform refuses larger batches whole (IMCLOUD_TELEMETRY__MAX_POINTS_PER_BATCH).
MAX_BATCH_POINTS = 50_000
# Refusals kept for inspection in stats().recent_refusals.
RECENT_REFUSALS = 20
# Command results waiting for the link; older ones are dropped past this.
MAX_PENDING_RESULTS = 1000
# How long close() waits for the platform to end the stream before cancelling it.
CLOSE_GRACE_S = 2.0
FATAL_CODES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)

ErrorHandler = Callable[[DeviceLinkError], None]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def reason_name(reason: int) -> str:
    """``REFUSAL_REASON_NOT_FINITE`` -> ``"not_finite"`` (as the REST API names it)."""
    try:
        return pb.RefusalReason.Name(reason).removeprefix("REFUSAL_REASON_").lower()  # type: ignore[arg-type]
    except ValueError:
        return f"reason_{reason}"  # a reason newer than this SDK


@dataclass
class _InFlight:
    """A batch sent and not yet acknowledged."""

    sequence_id: int
    request: pb.ConnectRequest
    points: int
    first_position: int
    # The link session it was last sent on, and when.
    session: int
    sent_at: float


@dataclass
class _Session:
    """One opened stream."""

    number: int
    call: grpc.RpcContext | None = None
    over: bool = False
    answered: bool = False
    # The oldest batch waited longer than ack_timeout_s for its acknowledgement.
    stalled: bool = False


class DeviceClient:
    """Streams one machine's telemetry to imcloud and answers its commands.

    >>> with DeviceClient("127.0.0.1:50050", "imd_...") as client:  # doctest: +SKIP
    ...     client.record("spindle_speed", 1200.0)
    ...     client.flush(timeout_s=10)

    ``target`` is the platform's device link (host:port); ``credential`` the
    machine's device credential (``imd_...``). Keyword options:

    - ``max_batch_points``: points per batch (the platform takes at most 50,000);
    - ``flush_interval_s``: how long a point may wait for its batch to fill up;
    - ``buffer_limit_points``: points kept while they cannot be sent; past it the
      oldest are dropped. Memory is bounded by this plus the batches in flight;
    - ``max_in_flight_batches``: batches sent and not yet acknowledged;
    - ``on_command(command) -> (CommandOutcome, detail)``: runs commands from the
      platform, one at a time on a thread of its own (without it, commands are
      rejected);
    - ``on_desired(desired) -> detail``: applies the desired state (the twin's desired
      properties) on a thread of its own, each version once and never one older than
      the last applied; returns what it could not apply, or None (without it,
      desired states are ignored);
    - ``on_error(error)``: told of every link problem; ``error.fatal`` means the
      client stopped (called on the client's thread: return quickly);
    - ``secure`` / ``root_certificates``: TLS (the system's roots when None);
    - ``reconnect_backoff_s``: first and longest wait between connection attempts;
    - ``ack_timeout_s``: a link whose oldest batch waits longer for its
      acknowledgement is considered dead and opened again;
    - ``connect_timeout_s``: how long one connection attempt may take;
    - ``first_sequence_id``: where batch sequence ids start (default: the clock
      in microseconds, so ids never repeat across restarts of the machine).
    """

    def __init__(
        self,
        target: str,
        credential: str,
        *,
        max_batch_points: int = 1000,
        flush_interval_s: float = 0.2,
        buffer_limit_points: int = 1_000_000,
        max_in_flight_batches: int = 8,
        on_command: CommandHandler | None = None,
        on_desired: DesiredHandler | None = None,
        on_error: ErrorHandler | None = None,
        secure: bool = False,
        root_certificates: bytes | None = None,
        reconnect_backoff_s: tuple[float, float] = (0.5, 30.0),
        ack_timeout_s: float = 30.0,
        connect_timeout_s: float = 20.0,
        first_sequence_id: int | None = None,
    ) -> None:
        if not credential:
            raise ValueError("a device credential (imd_...) is needed")
        if not 1 <= max_batch_points <= MAX_BATCH_POINTS:
            raise ValueError(f"max_batch_points must be between 1 and {MAX_BATCH_POINTS}")
        if min(flush_interval_s, ack_timeout_s, connect_timeout_s) <= 0:
            raise ValueError("flush_interval_s, ack_timeout_s and connect_timeout_s must be > 0")
        if max_in_flight_batches < 1:
            raise ValueError("max_in_flight_batches must be at least 1")
        self.target = target
        self._metadata = (("authorization", f"Bearer {credential}"),)
        self._max_batch = max_batch_points
        self._flush_interval_s = flush_interval_s
        self._max_in_flight = max_in_flight_batches
        self._on_error = on_error
        self._secure = secure
        self._root_certificates = root_certificates
        self._backoff = Backoff(initial_s=reconnect_backoff_s[0], max_s=reconnect_backoff_s[1])
        self._ack_timeout_s = ack_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._next_sequence_id = (
            time.time_ns() // 1000 if first_sequence_id is None else first_sequence_id
        )

        # Everything below is guarded by _cond's lock.
        self._cond = threading.Condition()
        self._buffer = PointBuffer(buffer_limit_points)
        self._pending_since: float | None = None  # when the oldest buffered point arrived
        self._in_flight: deque[_InFlight] = deque()
        self._results: deque[pb.CommandResult] = deque(maxlen=MAX_PENDING_RESULTS)
        self._receipts: deque[pb.CommandReceipt] = deque(maxlen=MAX_PENDING_RESULTS)
        self._applied: deque[pb.DesiredStateApplied] = deque(maxlen=MAX_PENDING_RESULTS)
        self._flush_target = 0  # send partial batches until this position is taken
        self._flush_waiters = 0
        self._session: _Session | None = None
        self._connected = False
        self._stopped = False
        self._last_error: str | None = None
        self._fatal_error: str | None = None
        self._points_sent = 0
        self._points_accepted = 0
        self._points_flagged = 0
        self._refused: Counter[str] = Counter()
        self._recent_refusals: deque[Refusal] = deque(maxlen=RECENT_REFUSALS)
        self._batches_sent = 0
        self._batches_resent = 0
        self._batches_acked = 0
        self._reconnects = 0
        self._commands_received = 0

        self._commands = CommandRunner(on_command, self._deliver_result, self._confirm_receipt)
        self._desired = DesiredStateRunner(on_desired, self._deliver_applied)
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"DeviceClient(target={self.target!r})"  # never the credential

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Self:
        """Starts the background thread that connects and sends."""
        if self._closing.is_set():
            raise RuntimeError("this client was closed; make a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"imcloud-device-link-{self.target}", daemon=True
            )
            self._thread.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Sends what was recorded (waiting up to ``timeout_s``), then stops.

        Points not acknowledged by then are lost; ``stats()`` still counts them
        as buffered. ``close(0)`` stops at once.
        """
        if self._thread is not None and timeout_s > 0 and not self._closing.is_set():
            self.flush(timeout_s)
        self._closing.set()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()  # the sender ends the stream: a clean goodbye
        if self._thread is not None:
            self._thread.join(CLOSE_GRACE_S)
            with self._cond:
                session = self._session
            if session is not None and session.call is not None:
                session.call.cancel()  # the platform did not answer the goodbye
            self._thread.join()
        self._commands.close()
        self._desired.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- recording (the machine's control loop) ----------------------------------

    def record(self, signal: str, value: float, timestamp_ms: int | None = None) -> None:
        """Buffers one measurement (time: now, unless given in Unix milliseconds).

        Never waits for the network. Booleans are recorded as 0 or 1. The
        platform keeps one point per signal and millisecond.
        """
        if not signal:
            raise ValueError("the signal needs a name")
        stamp = now_ms() if timestamp_ms is None else int(timestamp_ms)
        number = float(value)
        with self._cond:
            before = len(self._buffer)
            dropped = self._buffer.append(signal, stamp, number)
            self._after_append(before, dropped)

    def record_many(
        self, signal: str, timestamps_ms: Iterable[int], values: Iterable[float]
    ) -> None:
        """Buffers a run of one signal's measurements (as many timestamps as values)."""
        if not signal:
            raise ValueError("the signal needs a name")
        stamps = array("q", (int(t) for t in timestamps_ms))
        numbers = array("d", (float(v) for v in values))
        with self._cond:
            before = len(self._buffer)
            dropped = self._buffer.extend(signal, stamps, numbers)
            self._after_append(before, dropped)

    def record_snapshot(self, values: Mapping[str, float], timestamp_ms: int | None = None) -> None:
        """Buffers one measurement per signal, all taken at the same time."""
        if "" in values:
            raise ValueError("every signal needs a name")
        stamp = now_ms() if timestamp_ms is None else int(timestamp_ms)
        numbers = array("d", (float(v) for v in values.values()))
        with self._cond:
            before = len(self._buffer)
            dropped = self._buffer.extend_row(stamp, values.keys(), numbers)
            self._after_append(before, dropped)

    def _after_append(self, before: int, dropped: int) -> None:
        if before == 0:
            # The sender may be waiting with nothing to send: give it a deadline.
            self._pending_since = time.monotonic()
            self._cond.notify_all()
        elif before < self._max_batch <= len(self._buffer) or (dropped and self._flush_waiters):
            self._cond.notify_all()

    # -- waiting and looking -----------------------------------------------------

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Waits until everything recorded so far is acknowledged (or dropped).

        Partial batches are sent at once. Returns False on timeout, or when the
        client stopped (closed, or a refused credential) with points unsettled.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._buffer.appended
            if self._settled(target):
                return True
            if self._thread is None:
                raise RuntimeError("start the client before flushing it")
            if target > self._flush_target:
                self._flush_target = target
                self._cond.notify_all()
            self._flush_waiters += 1
            try:
                while not self._settled(target):
                    remaining = deadline - time.monotonic()
                    if self._stopped or remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flush_waiters -= 1

    def _settled(self, target: int) -> bool:
        """Whether every point before position ``target`` was acknowledged or dropped."""
        if self._buffer.removed < target:
            return False
        return not self._in_flight or self._in_flight[0].first_position >= target

    def stats(self) -> DeviceStats:
        with self._cond:
            return DeviceStats(
                points_recorded=self._buffer.appended,
                points_sent=self._points_sent,
                points_accepted=self._points_accepted,
                points_flagged=self._points_flagged,
                points_refused=sum(self._refused.values()),
                refused_by_reason=dict(self._refused),
                points_dropped=self._buffer.dropped,
                points_buffered=len(self._buffer) + sum(b.points for b in self._in_flight),
                batches_sent=self._batches_sent,
                batches_resent=self._batches_resent,
                batches_acked=self._batches_acked,
                reconnects=self._reconnects,
                connected=self._connected,
                commands_received=self._commands_received,
                recent_refusals=tuple(self._recent_refusals),
                last_error=self._last_error,
                stopped=self._stopped,
                fatal_error=self._fatal_error,
            )

    @property
    def stopped(self) -> bool:
        with self._cond:
            return self._stopped

    # -- the link (background thread) --------------------------------------------

    def _run(self) -> None:
        number = 0
        while not self._closing.is_set():
            number += 1
            if number > 1:
                with self._cond:
                    self._reconnects += 1
            session = _Session(number)
            try:
                error = self._serve(session)
            except Exception as exc:  # a bug must not silently end the link thread
                log.exception("device link failed")
                error = ConnectionLostError(f"{type(exc).__name__}: {exc}", code="INTERNAL")
            if self._closing.is_set():
                break
            with self._cond:
                self._last_error = str(error)
                if error.fatal:
                    self._stopped = True
                    self._fatal_error = str(error)
                self._cond.notify_all()
            log.log(
                logging.ERROR if error.fatal else logging.INFO,
                "device link %s: %s",
                "stopped" if error.fatal else "lost",
                error,
            )
            self._report(error)
            if error.fatal:
                break
            if session.answered:
                self._backoff.reset()
            self._closing.wait(self._backoff.next_delay_s())

    def _serve(self, session: _Session) -> DeviceLinkError:
        """Runs one stream until it ends; returns why it ended."""
        channel = self._open_channel()
        try:
            # Open the stream only over a working connection, so nothing leaves
            # the buffer (where drop-oldest applies) while the platform is away.
            if not self._wait_for_connection(channel):
                return ConnectionLostError(f"cannot reach {self.target}", code="UNAVAILABLE")
            stub = pb_grpc.DeviceLinkServiceStub(channel)
            call = stub.Connect(self._requests(session), metadata=self._metadata)
            with self._cond:
                session.call = call
                self._session = session
            if self._closing.is_set():
                call.cancel()
            for response in call:
                self._receive(session, response)
            return ConnectionLostError("the platform closed the link", code="OK")
        except grpc.RpcError as exc:
            return self._link_error(session, exc)
        finally:
            with self._cond:
                session.over = True
                self._connected = False
                self._session = None
                self._cond.notify_all()
            channel.close()

    def _open_channel(self) -> grpc.Channel:
        options = [
            ("grpc.primary_user_agent", f"imcloud-device-sdk/{VERSION}"),
            # Our own backoff decides when to reconnect, not a shared subchannel's.
            ("grpc.use_local_subchannel_pool", 1),
        ]
        if self._secure:
            credentials = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
            return grpc.secure_channel(self.target, credentials, options=options)
        return grpc.insecure_channel(self.target, options=options)

    def _wait_for_connection(self, channel: grpc.Channel) -> bool:
        """Whether the channel connects (READY) before it fails or the timeout passes."""
        outcome: list[grpc.ChannelConnectivity] = []
        settled = threading.Event()
        final = (
            grpc.ChannelConnectivity.READY,
            grpc.ChannelConnectivity.TRANSIENT_FAILURE,
            grpc.ChannelConnectivity.SHUTDOWN,
        )

        def changed(state: grpc.ChannelConnectivity) -> None:
            if state in final and not outcome:
                outcome.append(state)
                settled.set()

        channel.subscribe(changed, try_to_connect=True)
        try:
            deadline = time.monotonic() + self._connect_timeout_s
            while not settled.wait(0.05):
                if self._closing.is_set() or time.monotonic() > deadline:
                    return False
            return outcome[0] is grpc.ChannelConnectivity.READY
        finally:
            channel.unsubscribe(changed)

    def _link_error(self, session: _Session, exc: grpc.RpcError) -> DeviceLinkError:
        if isinstance(exc, grpc.Call):
            code, details = exc.code(), exc.details() or ""
        else:
            code, details = grpc.StatusCode.UNKNOWN, str(exc)
        if code in FATAL_CODES:
            return AuthenticationError(details or "the credential was refused", code=code.name)
        if session.stalled:
            return ConnectionLostError(
                f"no acknowledgement within {self._ack_timeout_s} s",
                code=grpc.StatusCode.DEADLINE_EXCEEDED.name,
            )
        return ConnectionLostError(details or code.name.lower(), code=code.name)

    def _report(self, error: DeviceLinkError) -> None:
        if self._on_error is None:
            return
        try:
            self._on_error(error)
        except Exception:
            log.exception("on_error raised")

    def _receive(self, session: _Session, response: pb.ConnectResponse) -> None:
        if response.HasField("ack"):
            with self._cond:
                session.answered = True
                self._connected = True
                self._settle(response.ack)
                self._cond.notify_all()
        elif response.HasField("command"):
            with self._cond:
                session.answered = True
                self._connected = True
                self._commands_received += 1
            self._commands.submit(response.command)
        elif response.HasField("command_cancellation"):
            self._commands.cancel(response.command_cancellation.command_id)
        elif response.HasField("desired_state"):
            with self._cond:
                session.answered = True
                self._connected = True
            self._desired.submit(response.desired_state)

    def _settle(self, ack: pb.BatchAck) -> None:
        """Matches an acknowledgement to its batch (acks come in order) and counts it."""
        in_flight = self._in_flight
        if in_flight and in_flight[0].sequence_id == ack.sequence_id:
            in_flight.popleft()
        else:
            match = next((b for b in in_flight if b.sequence_id == ack.sequence_id), None)
            if match is None:
                log.warning("acknowledgement of an unknown batch %d", ack.sequence_id)
                return
            in_flight.remove(match)
        self._batches_acked += 1
        self._points_accepted += ack.accepted_points
        self._points_flagged += ack.flagged_points
        for refusal in ack.refusals:
            reason = reason_name(refusal.reason)
            self._refused[reason] += refusal.points
            self._recent_refusals.append(
                Refusal(
                    sequence_id=ack.sequence_id,
                    signal=refusal.signal,
                    reason=reason,
                    points=refusal.points,
                    detail=refusal.detail,
                )
            )

    def _deliver_result(self, result: pb.CommandResult) -> None:
        with self._cond:
            self._results.append(result)
            self._cond.notify_all()

    def _confirm_receipt(self, receipt: pb.CommandReceipt) -> None:
        with self._cond:
            self._receipts.append(receipt)
            self._cond.notify_all()

    def _deliver_applied(self, report: pb.DesiredStateApplied) -> None:
        with self._cond:
            self._applied.append(report)
            self._cond.notify_all()

    def _requests(self, session: _Session) -> Iterator[pb.ConnectRequest]:
        """What goes up the stream: command results, resends, then new batches.

        gRPC pulls from this generator on a thread of its own; it waits here
        (without holding the lock) until there is something to send.
        """
        while True:
            with self._cond:
                while True:
                    if session.over or self._closing.is_set():
                        return
                    request, wait_s = self._next_request(session, time.monotonic())
                    if request is not None or session.stalled:
                        break
                    self._cond.wait(wait_s)
            if request is None:  # stalled: the link is dead, open it again
                if session.call is not None:
                    session.call.cancel()
                return
            yield request

    def _next_request(
        self, session: _Session, now: float
    ) -> tuple[pb.ConnectRequest | None, float | None]:
        """The next message to send, or how long to wait for one (None: until woken)."""
        if self._receipts:
            return pb.ConnectRequest(command_receipt=self._receipts.popleft()), None
        if self._results:
            return pb.ConnectRequest(command_result=self._results.popleft()), None
        if self._applied:
            return pb.ConnectRequest(desired_state_applied=self._applied.popleft()), None
        for batch in self._in_flight:
            if batch.session != session.number:  # sent on an earlier stream, not acked
                batch.session, batch.sent_at = session.number, now
                self._batches_resent += 1
                return batch.request, None
        wait_s: float | None = None
        if self._in_flight:
            ack_due = self._in_flight[0].sent_at + self._ack_timeout_s
            if now >= ack_due:
                session.stalled = True
                return None, None
            wait_s = ack_due - now
        buffered = len(self._buffer)
        if buffered and len(self._in_flight) < self._max_in_flight:
            since = now if self._pending_since is None else self._pending_since
            due = since + self._flush_interval_s
            if (
                buffered >= self._max_batch
                or self._flush_target > self._buffer.removed
                or now >= due
            ):
                return self._new_batch(session, now), None
            wait_s = due - now if wait_s is None else min(wait_s, due - now)
        return None, wait_s

    def _new_batch(self, session: _Session, now: float) -> pb.ConnectRequest:
        taken = self._buffer.take(self._max_batch)
        if not len(self._buffer):
            self._pending_since = None
        sequence_id = self._next_sequence_id
        self._next_sequence_id += 1
        request = pb.ConnectRequest(
            telemetry=telemetry_pb2.TelemetryBatch(
                sequence_id=sequence_id,
                series=[
                    telemetry_pb2.SignalSeries(
                        signal=s.signal, timestamps_ms=s.timestamps_ms, values=s.values
                    )
                    for s in taken.series
                ],
            )
        )
        self._in_flight.append(
            _InFlight(
                sequence_id=sequence_id,
                request=request,
                points=taken.points,
                first_position=taken.first_position,
                session=session.number,
                sent_at=now,
            )
        )
        self._points_sent += taken.points
        self._batches_sent += 1
        return request
