"""Drain before stopping: on SIGTERM, report not-ready at once and keep serving a while.

A load balancer that polls `/readyz` needs a moment to stop sending traffic to a
process that is going away. uvicorn stops listening as soon as it sees SIGTERM,
so the lifespan wraps uvicorn's SIGTERM handler: the first SIGTERM turns
`/readyz` to 503 straight away, and uvicorn's own graceful shutdown (stop
accepting, finish in-flight requests, run the lifespan's shutdown) starts only
after `MUSTER_SHUTDOWN_DELAY_SECONDS`. A second SIGTERM skips the rest of the delay.
SIGINT (Ctrl-C) is left alone.
"""

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("muster.shutdown")


def _nothing_to_restore() -> None:
    return None


def delay_sigterm(on_drain: Callable[[], None], delay: float) -> Callable[[], None]:
    """Wrap the SIGTERM handler the server installed; return a function that unwraps it.

    Nothing is wrapped when no Python handler owns SIGTERM (the app runs in a test or
    embedded without a server) or when this is not the main thread (signals are only
    delivered there).
    """
    if threading.current_thread() is not threading.main_thread():
        return _nothing_to_restore
    server_handler = signal.getsignal(signal.SIGTERM)
    if not callable(server_handler):
        return _nothing_to_restore
    loop = asyncio.get_running_loop()
    draining = forwarded = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal forwarded
        if not forwarded:
            forwarded = True
            server_handler(signum, frame)

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal draining
        if draining or delay <= 0:
            on_drain()
            forward(signum, frame)
            return
        draining = True
        on_drain()
        log.info(
            "SIGTERM received: /readyz answers 503; serving %.3g s more before shutting down",
            delay,
            extra={"shutdown_delay_seconds": delay},
        )
        # A signal handler may interrupt the event loop anywhere: hand over thread-safely.
        loop.call_soon_threadsafe(loop.call_later, delay, forward, signum, None)

    signal.signal(signal.SIGTERM, handle)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is handle:
            signal.signal(signal.SIGTERM, server_handler)

    return restore
