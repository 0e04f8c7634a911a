"""A connection pool that serves waiting requests in their order of arrival.

SQLAlchemy's asyncio pool hands a returned connection to whichever task asks next:
a request that has just arrived takes it ahead of those already waiting, and a waiter
that loses this race goes to the back of the line, so under load a few requests wait
many turns. Here a returned connection goes straight to the longest waiter, and nobody
takes one while others wait (measurements: docs/performance.md).
"""

import asyncio
from collections import deque
from typing import Any, TypeVar

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

T = TypeVar("T")


class FairQueue(AsyncAdaptedQueue[T]):
    """The pool's queue of idle connections, with the tasks waiting for one in line."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[T]] = deque()

    def put_nowait(self, item: T) -> None:  # the pool returns connections with this
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # not cancelled, nor timed out
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        if not block or not self._waiters:  # nobody in line: take an idle one, if any
            try:
                return self.get_nowait()
            except Empty:
                if not block:
                    raise
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await_(asyncio.wait_for(waiter, timeout))
        except TimeoutError as error:
            raise Empty() from error
        except BaseException:
            # Cancelled after being handed a connection: hand it on, do not lose it.
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())
            raise


class FairAsyncPool(AsyncAdaptedQueuePool):
    """`AsyncAdaptedQueuePool` with `FairQueue`: connections go to waiters in order."""

    _queue_class: Any = FairQueue
