"""A stopped clock for tests that assert exact times: the time moves only when told.

`time-machine` stops the process's wall clock (`datetime.now`, `time.time`) for the
test; `utcnow()` in the app is plain `datetime.now(UTC)`, with no hook for tests.
Monotonic clocks (asyncio, timeouts, caches) keep running.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """The stopped wall clock of one test."""

    def __init__(self, traveller: time_machine.Traveller) -> None:
        self._traveller = traveller

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def set(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            raise ValueError("a stopped clock needs an aware datetime")
        self._traveller.move_to(now)
        return self.now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by `delta` or by `timedelta(**parts)`, e.g. `advance(minutes=5)`."""
        self._traveller.shift(delta if delta is not None else timedelta(**parts))
        return self.now


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The wall clock stopped at T0 for the test; move it with `clock.advance(minutes=…)`."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield Clock(traveller)
