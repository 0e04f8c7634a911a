"""The one place Muster asks for the time: aware UTC, never naive.

`utcnow()` is simply the system time; tests stop it with `time-machine` (tests/clock.py).
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator


def utcnow() -> datetime:
    return datetime.now(UTC)


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
