"""The one place Muster asks for the time: aware UTC, never naive."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
