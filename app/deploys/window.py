"""The look-back window of suspect deploys: whole minutes (`90`) or an ISO 8601 duration."""

import re
from datetime import timedelta

from app.core.errors import FieldProblem, InvalidInput

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=30)

_MINUTES = re.compile(r"\d+", re.ASCII)
_NUMBER = r"(\d+(?:[.,]\d+)?)"
# PnW, PnDTnHnMnS and any of their parts. Years and months have no fixed length: refused.
_DURATION = re.compile(
    rf"P(?=.)(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?",
    re.ASCII | re.IGNORECASE,
)
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(
        f"window: {message}",
        errors=[FieldProblem(field="query.window", message=message, type="window")],
    )


def _parse(text: str) -> timedelta | None:
    if _MINUTES.fullmatch(text):
        return timedelta(minutes=int(text))
    if match := _DURATION.fullmatch(text):
        parts = {
            unit: float(value.replace(",", "."))
            for unit, value in zip(_UNITS, match.groups(), strict=True)
            if value is not None
        }
        return timedelta(**parts)
    return None


def parse_window(text: str | None) -> timedelta:
    """`None` → 24 h; `"90"` → 90 minutes; `"PT6H"`, `"P1D"`, `"P1DT12H"` → that duration.

    The window must be longer than zero and at most 30 days.
    """
    if text is None:
        return DEFAULT_WINDOW
    try:
        window = _parse(text.strip())
    except OverflowError:
        raise _invalid(f"must be at most {MAX_WINDOW.days} days") from None
    if window is None:
        raise _invalid(
            "expected whole minutes (e.g. 90) or an ISO 8601 duration in weeks, days, hours, "
            "minutes or seconds (e.g. PT6H, P1D)"
        )
    if window <= timedelta(0):
        raise _invalid("must be longer than zero")
    if window > MAX_WINDOW:
        raise _invalid(f"must be at most {MAX_WINDOW.days} days")
    return window
