"""gRPC on both ends: servers with health checks, metrics and error mapping;
clients with deadlines, tenant metadata and the reverse error mapping.

The tenant a call acts for travels in the ``x-imcloud-tenant-id`` metadata; only
the gateway sets it, after authenticating the caller, and every servicer reads it
with ``call_tenant`` and scopes every query to it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from imcloud_core.errors import (
    ERROR_CLASSES,
    ErrorCode,
    FieldViolation,
    ImcloudError,
    InvalidArgument,
    ResourceExhausted,
    Unauthenticated,
)
from imcloud_core.logging import bound_context, get_logger
from imcloud_core.metrics import ERRORS, GRPC_SERVER_HANDLED, GRPC_SERVER_SECONDS

log = get_logger(__name__)

TENANT_KEY = "x-imcloud-tenant-id"
ACTOR_KEY = "x-imcloud-actor"
REQUEST_ID_KEY = "x-request-id"
# Large enough for telemetry batches; bigger messages are refused with a status.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]


@dataclass(frozen=True)
class CallContext:
    """Who a call acts for, as the gateway established it."""

    tenant_id: str
    actor: str = ""
    request_id: str = ""

    def metadata(self) -> tuple[tuple[str, str], ...]:
        pairs = [(TENANT_KEY, self.tenant_id)]
        if self.actor:
            pairs.append((ACTOR_KEY, self.actor))
        if self.request_id:
            pairs.append((REQUEST_ID_KEY, self.request_id))
        return tuple(pairs)


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}


def call_context(context: grpc.ServicerContext) -> CallContext:
    """The tenant (and actor) of an incoming call; refuses calls without one."""
    metadata = _metadata(context)
    tenant_id = metadata.get(TENANT_KEY, "")
    if not tenant_id:
        raise Unauthenticated(f"the call carries no tenant ({TENANT_KEY} metadata)")
    return CallContext(
        tenant_id=tenant_id,
        actor=metadata.get(ACTOR_KEY, ""),
        request_id=metadata.get(REQUEST_ID_KEY, ""),
    )


# The one table from domain errors to gRPC status codes, and back.
GRPC_STATUS: dict[ErrorCode, grpc.StatusCode] = {
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.PAYLOAD_TOO_LARGE: grpc.StatusCode.OUT_OF_RANGE,
    ErrorCode.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
}
CODE_BY_GRPC_STATUS: dict[grpc.StatusCode, ErrorCode] = {
    status: code for code, status in GRPC_STATUS.items()
}
# Statuses a peer may send that have no domain error of their own.
CODE_BY_GRPC_STATUS |= {
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED: ErrorCode.UNAVAILABLE,
    grpc.StatusCode.UNKNOWN: ErrorCode.INTERNAL,
    grpc.StatusCode.UNIMPLEMENTED: ErrorCode.INTERNAL,
    grpc.StatusCode.DATA_LOSS: ErrorCode.INTERNAL,
    grpc.StatusCode.ABORTED: ErrorCode.FAILED_PRECONDITION,
}


# The status travels in gRPC's trailing metadata, which peers cap at 8 KiB:
# enough violations to fix a request, never so many that the answer is lost.
MAX_VIOLATIONS = 20
MAX_DETAIL_CHARS = 200


# -- server --------------------------------------------------------------------

# When the call being served ends (time.monotonic()): the calls it makes end no
# later. gRPC Python does not carry a deadline over by itself, and an answer that
# arrives after the caller gave up is work thrown away (a quote's what-if schedule
# used to take production's 8 s while the gateway waited 5).
_SERVED_UNTIL: ContextVar[float | None] = ContextVar("served_until", default=None)


@contextmanager
def _serving(context: grpc.ServicerContext) -> Iterator[None]:
    remaining = context.time_remaining()
    token = _SERVED_UNTIL.set(None if remaining is None else time.monotonic() + remaining)
    try:
        yield
    finally:
        _SERVED_UNTIL.reset(token)


def _within_served_deadline(deadline_s: float) -> float:
    served_until = _SERVED_UNTIL.get()
    if served_until is None:
        return deadline_s
    return min(deadline_s, max(0.0, served_until - time.monotonic()))


def _status_for(error: ImcloudError) -> status_pb2.Status:
    details = []
    if error.violations:
        shown = error.violations[:MAX_VIOLATIONS]
        if len(error.violations) > MAX_VIOLATIONS:
            more = len(error.violations) - MAX_VIOLATIONS
            shown = (*shown, FieldViolation("", f"and {more} more problems of the same kind"))
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field[:MAX_DETAIL_CHARS], description=v.reason[:MAX_DETAIL_CHARS]
                )
                for v in shown
            ]
        )
        details.append(bad_request)
    if isinstance(error, ResourceExhausted):
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromNanoseconds(int(error.retry_after_s * 1e9))
        details.append(retry)
    status = status_pb2.Status(code=GRPC_STATUS[error.code].value[0], message=error.message)
    for detail in details:
        status.details.add().Pack(detail)
    return status


class _ServerInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Maps domain errors to statuses, logs, and counts every call."""

    def __init__(self, service_label: str) -> None:
        self._service = service_label

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: Any
    ) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method.rsplit("/", 1)[-1]
        if handler_call_details.method.startswith("/grpc.health"):
            return handler
        if handler.request_deserializer is not None:
            handler = handler._replace(
                request_deserializer=_tolerant(handler.request_deserializer, method)
            )
        if handler.unary_unary:
            return handler._replace(unary_unary=self._wrap(handler.unary_unary, method, False))
        if handler.unary_stream:
            return handler._replace(unary_stream=self._wrap(handler.unary_stream, method, True))
        if handler.stream_unary:
            return handler._replace(stream_unary=self._wrap(handler.stream_unary, method, False))
        return handler._replace(stream_stream=self._wrap(handler.stream_stream, method, True))

    def _wrap(
        self, behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str, streams: bool
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        service = self._service

        def finish(context: grpc.ServicerContext, started: float, code: str) -> None:
            GRPC_SERVER_HANDLED.labels(service, method, code).inc()
            GRPC_SERVER_SECONDS.labels(service, method).observe(time.perf_counter() - started)

        def fail(context: grpc.ServicerContext, error: Exception) -> None:
            if isinstance(error, ImcloudError):
                ERRORS.labels("grpc", error.code.value).inc()
                log.info("call refused", method=method, code=error.code.value, reason=error.message)
                context.abort_with_status(rpc_status.to_status(_status_for(error)))
            log.exception("call failed", method=method)
            ERRORS.labels("grpc", ErrorCode.INTERNAL.value).inc()
            context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")

        def context_values(context: grpc.ServicerContext) -> dict[str, str]:
            metadata = _metadata(context)
            return {
                "tenant_id": metadata.get(TENANT_KEY, ""),
                "request_id": metadata.get(REQUEST_ID_KEY, "") or uuid.uuid4().hex,
                "rpc": method,
            }

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            with bound_context(**context_values(context)), _serving(context):
                try:
                    response = behaviour(_well_formed(request), context)
                except Exception as error:
                    finish(context, started, _code_name(error))
                    fail(context, error)
                finish(context, started, "OK")
                return response

        def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = time.perf_counter()
            with bound_context(**context_values(context)), _serving(context):
                try:
                    yield from behaviour(_well_formed(request), context)
                except grpc.RpcError:
                    if context.is_active():
                        raise
                    # The peer went away (closed, cancelled, lost): an ordinary end.
                    finish(context, started, grpc.StatusCode.CANCELLED.name)
                    log.info("stream ended by the peer", method=method)
                    return
                except Exception as error:
                    finish(context, started, _code_name(error))
                    fail(context, error)
                finish(context, started, "OK")

        return streaming if streams else unary


@dataclass(frozen=True)
class _Malformed:
    """What arrived in place of a message that does not parse."""

    method: str
    reason: str

    def refusal(self) -> InvalidArgument:
        return InvalidArgument(f"malformed {self.method} message: {self.reason}")


def _tolerant(deserialize: Callable[[bytes], Any], method: str) -> Callable[[bytes], Any]:
    """A deserializer that hands bytes it cannot parse on as ``_Malformed``, so the
    call ends INVALID_ARGUMENT through the usual error path (gRPC would answer
    INTERNAL and leave the servicer's stream half-read)."""

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as error:
            return _Malformed(method, str(error) or type(error).__name__)

    return parse


def _well_formed(request: Any) -> Any:
    """The request, or a stream of requests, that raises InvalidArgument at the
    first message that did not parse."""
    if isinstance(request, _Malformed):
        raise request.refusal()
    if isinstance(request, Iterator):
        return _checked_stream(request)
    return request


def _checked_stream(requests: Iterator[Any]) -> Iterator[Any]:
    for request in requests:
        if isinstance(request, _Malformed):
            raise request.refusal()
        yield request


def _code_name(error: Exception) -> str:
    if isinstance(error, ImcloudError):
        return GRPC_STATUS[error.code].name
    return grpc.StatusCode.INTERNAL.name


Registration = Callable[[grpc.Server], str]


def registrar(
    module: ModuleType, service: str, add_to_server: Callable[[Any, grpc.Server], None]
) -> Callable[[Any], Registration]:
    """Builds ``register(servicer)``, which adds the servicer to a server and
    returns its full name (for the health service)."""
    full_name = str(module.DESCRIPTOR.services_by_name[service].full_name)

    def register(servicer: Any) -> Registration:
        def add(server: grpc.Server) -> str:
            add_to_server(servicer, server)
            return full_name

        return add

    return register


class GrpcServer:
    """A started gRPC server that answers grpc.health.v1 for its services."""

    def __init__(
        self,
        *,
        name: str,
        bind: str,
        register: Sequence[Registration],
        max_workers: int = 32,
    ) -> None:
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"grpc-{name}"),
            interceptors=[_ServerInterceptor(name)],
            # Without this a second process binds the same port and takes half
            # the calls: a port in use must be an error.
            options=[*_CHANNEL_OPTIONS, ("grpc.so_reuseport", 0)],
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.service_names = [add(self._server) for add in register]
        try:
            self.port = self._server.add_insecure_port(bind)
        except RuntimeError as exc:
            raise OSError(f"cannot listen on {bind}: {exc}") from None
        if self.port == 0:
            raise OSError(f"cannot listen on {bind}: the address is in use or not this host's")
        self.bind = bind

    def start(self) -> None:
        self._server.start()
        for service_name in [*self.service_names, ""]:
            self.health.set(service_name, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace_s: float = 5.0) -> None:
        # Tell load balancers first, then let calls in flight finish.
        self.health.enter_graceful_shutdown()
        self._server.stop(grace_s).wait()


# -- client --------------------------------------------------------------------

ResponseT = TypeVar("ResponseT", bound=Message)


def open_channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)


def error_from_rpc(error: grpc.RpcError) -> ImcloudError:
    """Rebuilds the domain error a server raised (with its field violations)."""
    status_code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    message: str = error.details() or status_code.name  # type: ignore[attr-defined]
    code = CODE_BY_GRPC_STATUS.get(status_code, ErrorCode.INTERNAL)
    violations: tuple[FieldViolation, ...] = ()
    retry_after_s = 1.0
    rich = rpc_status.from_call(error)  # type: ignore[arg-type]
    if rich is not None:
        for detail in rich.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                violations = tuple(
                    FieldViolation(v.field, v.description) for v in bad_request.field_violations
                )
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_after_s = retry.retry_delay.ToNanoseconds() / 1e9
    if code is ErrorCode.RESOURCE_EXHAUSTED:
        return ResourceExhausted(message, retry_after_s=retry_after_s)
    if code is ErrorCode.INTERNAL and status_code is not grpc.StatusCode.INTERNAL:
        message = f"{status_code.name}: {message}"
    error_class = ERROR_CLASSES.get(code)
    if error_class is None:
        return ImcloudError(message)
    return error_class(message, violations=violations)


def call(
    method: Callable[..., ResponseT],
    request: Message,
    *,
    ctx: CallContext,
    deadline_s: float,
) -> ResponseT:
    """One unary call with a deadline (no later than the served call's) and the
    caller's tenant; raises ImcloudError."""
    try:
        return method(request, timeout=_within_served_deadline(deadline_s), metadata=ctx.metadata())
    except grpc.RpcError as error:
        raise error_from_rpc(error) from None


def check_health(target: str, *, service: str = "", timeout_s: float = 2.0) -> bool:
    with open_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)
