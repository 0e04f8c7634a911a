import pytest

from app.core.handles import MAX_HANDLE_LENGTH, normalise_handle


@pytest.mark.parametrize(
    ("given", "handle"),
    [
        ("alice", "alice"),
        ("Alice", "alice"),
        ("  ALICE ", "alice"),
        ("\uff41\uff4c\uff49\uff43\uff45", "alice"),  # full-width letters: NFKC
        ("Straße", "strasse"),  # case folding, not just lower()
        ("\ufb01ona", "fiona"),  # a ligature is two letters
        ("josé", "josé"),
        ("jose\u0301", "josé"),  # combining accent: one spelling
        ("alice@example.com", "alice@example.com"),
        ("a" * MAX_HANDLE_LENGTH, "a" * MAX_HANDLE_LENGTH),
    ],
)
def test_one_spelling_per_person(given, handle):
    assert normalise_handle(given) == handle


@pytest.mark.parametrize(
    "given",
    [
        "",
        "   ",
        "alice\u200b",  # zero-width space
        "al\u200dice",  # zero-width joiner
        "\ufeffalice",  # byte-order mark
        "alice\u00ad",  # soft hyphen
        "alice\u2066",  # bidi isolate
        "ali\u3164ce",  # Hangul filler: a letter that prints as nothing
        "alice\ufe0f",  # variation selector
        "alice\x00",
        "ali\nce",
        "al ice",
        "al\u00a0ice",  # no-break space
        "alice\U000e0041",  # tag character
        "service:ci",  # a service, not a person
        "Service:CI",
        "a" * (MAX_HANDLE_LENGTH + 1),
        "\ufdfa" * 10,  # NFKC turns each into 18 letters: too long once normalised
    ],
)
def test_invisible_empty_reserved_or_long_handles_are_refused(given):
    with pytest.raises(ValueError, match="handle"):
        normalise_handle(given)
