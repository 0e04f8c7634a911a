"""The pool's queue serves waiters in arrival order and never loses a connection.

Driven directly, the way the pool drives it (`get` from SQLAlchemy's greenlet, returns
with `put_nowait`), so that every interleaving below is exact, not a matter of timing.
"""

import asyncio

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import Empty

from app.core.pool import FairAsyncPool, FairQueue


async def waiting(queue: FairQueue[str], timeout: float | None = None) -> asyncio.Task[str]:
    task = asyncio.create_task(greenlet_spawn(queue.get, True, timeout))
    for _ in range(5):  # until it waits
        await asyncio.sleep(0)
    assert not task.done()
    return task


async def test_a_free_connection_is_taken_at_once():
    queue: FairQueue[str] = FairQueue(2)
    queue.put_nowait("a")
    assert await greenlet_spawn(queue.get, True, None) == "a"


async def test_waiters_are_served_in_order_and_a_newcomer_waits_its_turn():
    queue: FairQueue[str] = FairQueue(3)
    first, second = await waiting(queue), await waiting(queue)
    # A request ready to run asks just after a connection comes back, before the
    # first waiter has resumed: it must not take that connection.
    newcomer = asyncio.create_task(greenlet_spawn(queue.get, True, None))
    queue.put_nowait("a")
    await asyncio.sleep(0)
    assert not newcomer.done()
    queue.put_nowait("b")
    queue.put_nowait("c")
    assert [await first, await second, await newcomer] == ["a", "b", "c"]


async def test_a_waiter_cancelled_after_the_hand_over_passes_the_connection_on():
    queue: FairQueue[str] = FairQueue(2)
    first, second = await waiting(queue), await waiting(queue)
    queue.put_nowait("a")
    first.cancel()  # e.g. the client went away, before the task resumed
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "a"


async def test_a_timed_out_waiter_gives_up_and_is_skipped():
    queue: FairQueue[str] = FairQueue(2)
    gave_up = await waiting(queue, timeout=0.01)
    with pytest.raises(Empty):
        await gave_up
    queue.put_nowait("a")
    assert queue.qsize() == 1
    assert await greenlet_spawn(queue.get, True, None) == "a"


async def test_a_pool_of_one_serves_a_line_in_order_and_times_out_as_it_should(database):
    engine = create_async_engine(
        database.engine.url, poolclass=FairAsyncPool, pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    served: list[int] = []

    async def query(n: int) -> None:
        async with engine.connect() as connection:
            served.append(n)
            await connection.execute(text("SELECT 1"))

    try:
        held = await engine.connect()
        with pytest.raises(exc.TimeoutError):  # answered 503 by the app
            await query(-1)
        line = [asyncio.create_task(query(n)) for n in range(5)]
        await asyncio.sleep(0.05)
        await held.close()
        await asyncio.gather(*line)
        assert served == [0, 1, 2, 3, 4]
        assert engine.sync_engine.pool.checkedout() == 0  # nothing lost on the way
    finally:
        await engine.dispose()
