"""The one place Muster asks for the time: aware UTC, never naive.

Tests can freeze the clock with `frozen_clock(...)`; production never does, and then
`utcnow()` is simply the system time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator


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
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError("the timestamp is out of range in UTC") from None


def _not_a_number(value: Any) -> Any:
    # Pydantic would read a number, a bool or numeric text ("1700000000", "0.5", as query
    # parameters come) as a Unix time; the contract is RFC 3339 text.
    if isinstance(value, int | float) or (isinstance(value, str) and _looks_numeric(value)):
        raise ValueError("expected an RFC 3339 timestamp with offset, e.g. 2026-11-28T10:00:00Z")
    return value


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Input timestamps are RFC 3339 text with an offset; they are kept (and returned) in UTC.
AwareUTC = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_to_utc)]
