"""Runs a target's modules until SIGINT or SIGTERM, then stops them in reverse."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType

from imcloud_core.logging import get_logger
from imcloud_core.metrics import serve_metrics
from imcloud_core.service import Component, Runtime
from imcloud_platform.modules import modules, start_order
from imcloud_platform.settings import Settings

log = get_logger(__name__)
# How long threads may take to end after every module stopped.
LINGER_GRACE_S = 10.0


def run(target: str, settings: Settings) -> None:
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    runtime = Runtime(settings)
    started: list[tuple[str, Component]] = []
    try:
        registry = modules(settings)
        names = start_order(registry, target)
        for name in names:
            build = registry[name].build
            if build is None:
                continue
            component = build(runtime)
            component.start()
            started.append((name, component))
        # One metrics server per process, whatever it runs, apart from the API
        # listener: the public port must not show the platform's internals.
        if settings.metrics_port:
            serve_metrics(settings.metrics_port, settings.metrics_host)
        log.info("imcloud running", target=target, modules=[n for n, _ in started])
        stop_requested.wait()
    finally:
        for name, component in reversed(started):
            try:
                component.stop()
            except Exception:
                log.exception("module did not stop cleanly", module=name)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("imcloud stopped", target=target)
        _leave_no_thread_behind(LINGER_GRACE_S)


def _leave_no_thread_behind(grace_s: float) -> None:
    """Ends the process even when a thread of a library (a gRPC stream a peer keeps
    half open, say) outlives the stop: everything was committed before this point,
    and an operator's SIGTERM must end the process."""
    deadline = time.monotonic() + grace_s
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    lingering = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if lingering:
        log.warning("threads still running after the stop; exiting anyway", threads=lingering)
        logging.shutdown()
        os._exit(0)
