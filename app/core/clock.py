"""The one place Muster asks for the time: aware UTC, never naive."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Input timestamps must carry an offset; they are kept (and returned) in UTC.
AwareUTC = Annotated[AwareDatetime, AfterValidator(_to_utc)]
