"""The one place Muster asks for the time: aware UTC, never naive.

Tests can freeze the clock with `frozen_clock(...)`; production never does, and then
`utcnow()` is simply the system time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


class FrozenClock:
    """A stopped clock for tests: it moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self.now = _checked(now)

    def set(self, now: datetime) -> datetime:
        self.now = _checked(now)
        return self.now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by `delta` or by `timedelta(**parts)`, e.g. `advance(minutes=5)`."""
        self.now += delta if delta is not None else timedelta(**parts)
        return self.now


_frozen: FrozenClock | None = None


def _checked(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("a frozen clock needs an aware datetime")
    return now.astimezone(UTC)


def utcnow() -> datetime:
    if _frozen is not None:
        return _frozen.now
    return datetime.now(UTC)


@contextmanager
def frozen_clock(now: datetime) -> Iterator[FrozenClock]:
    """Stop `utcnow()` at `now` (process-wide) until the block ends. For tests only."""
    global _frozen
    previous, _frozen = _frozen, FrozenClock(now)
    try:
        yield _frozen
    finally:
        _frozen = previous


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Input timestamps must carry an offset; they are kept (and returned) in UTC.
AwareUTC = Annotated[AwareDatetime, AfterValidator(_to_utc)]
