"""Text fields that are trimmed: checked against their limits as sent, then trimmed.

Pydantic's `strip_whitespace` trims before it checks the length, so a value the
schema says is too long would be accepted; with these the schema tells the truth.
"""

from pydantic import AfterValidator


def _trim(value: str) -> str:
    return value.strip()


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


TRIMMED = AfterValidator(_trim)
NOT_BLANK = AfterValidator(_not_blank)
