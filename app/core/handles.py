"""A person's handle is an identity: one spelling per person, nothing hidden in it.

`normalise_handle` is the one rule, and `Handle` the type every schema that accepts a
handle uses: Unicode NFKC (full-width and compatibility forms become plain letters),
case folded (so `Alice` and `alice` are one person, stored as `alice`), at most
`MAX_HANDLE_LENGTH` characters, and refused when it holds a space, a control or
format character, or anything else that prints as nothing (`alice\\u200b`).
"""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

MAX_HANDLE_LENGTH = 100
# A service's actor is `service:<key name>`; no person can take a handle like that.
SERVICE_PREFIX = "service:"

# Unicode categories that never belong in a handle: controls, format characters (the
# zero-width space and joiners, bidi controls), surrogates, private use, unassigned,
# and every kind of space or separator.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# Unicode's Default_Ignorable_Code_Point ranges: characters that render as nothing
# although their category is a letter or a mark (Hangul fillers, variation selectors).
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def _invisible(char: str) -> bool:
    if unicodedata.category(char) in _REFUSED_CATEGORIES:
        return True
    point = ord(char)
    return any(low <= point <= high for low, high in _IGNORABLE)


def fold(value: str) -> str:
    """The caseless NFKC form of `value`, without judging it (for comparing old records)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def normalise_handle(value: str) -> str:
    """`value` as the one spelling of its person; `ValueError` when it cannot be one."""
    handle = fold(value.strip())
    if not handle:
        raise ValueError("a handle must not be empty")
    if len(handle) > MAX_HANDLE_LENGTH:
        raise ValueError(f"a handle has at most {MAX_HANDLE_LENGTH} characters")
    hidden = next((char for char in handle if _invisible(char)), None)
    if hidden is not None:
        name = unicodedata.name(hidden, "unnamed")
        raise ValueError(
            f"a handle must not contain spaces or invisible characters (U+{ord(hidden):04X} {name})"
        )
    if handle.startswith(SERVICE_PREFIX):
        raise ValueError(f"a handle starting with `{SERVICE_PREFIX}` names a service, not a person")
    return handle


def _validate(value: str) -> str:
    try:
        return normalise_handle(value)
    except ValueError as exc:
        raise PydanticCustomError("handle", str(exc)) from None


Handle = Annotated[
    str,
    Field(
        min_length=1,
        # Checked as sent, then again once normalised (NFKC may lengthen a string).
        max_length=MAX_HANDLE_LENGTH,
        description="A person's chat or login handle: NFKC, case-insensitive (stored in "
        "lower case), no spaces or invisible characters",
    ),
    AfterValidator(_validate),
]
