"""A call made while serving another ends no later than the one being served."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc

from imcloud_core.rpc import CallContext, GrpcServer, call, open_channel

INNER = "/imcloud.test.Inner/Wait"
OUTER = "/imcloud.test.Outer/Ask"
INNER_DEADLINE_S = 30.0


@contextmanager
def serving(
    name: str, path: str, behaviour: Callable[[bytes, grpc.ServicerContext], bytes]
) -> Iterator[str]:
    service, method = path.strip("/").split("/")

    def register(server: grpc.Server) -> str:
        handler = grpc.unary_unary_rpc_method_handler(behaviour)
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(service, {method: handler})]
        )
        return service

    server = GrpcServer(name=name, bind="127.0.0.1:0", register=[register])
    server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        server.stop(0)


def test_the_inner_call_gets_the_outer_deadline_and_keeps_its_own_without_one() -> None:
    seen: list[float] = []

    def inner(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen.append(context.time_remaining())
        return b""

    with serving("inner", INNER, inner) as inner_target, open_channel(inner_target) as to_inner:
        ask_inner = to_inner.unary_unary(INNER)

        def outer(request: bytes, context: grpc.ServicerContext) -> bytes:
            return call(ask_inner, b"", ctx=CallContext("tenant"), deadline_s=INNER_DEADLINE_S)  # type: ignore[arg-type]

        with serving("outer", OUTER, outer) as outer_target, open_channel(outer_target) as to_outer:
            ask_outer = to_outer.unary_unary(OUTER)
            ask_outer(b"", timeout=2.0)
            ask_outer(b"")

    within_two_seconds, without_deadline = seen
    assert 0 < within_two_seconds <= 2.0
    assert abs(without_deadline - INNER_DEADLINE_S) < 1.0
