from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.integrations.gitlab import parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-04-28 21:50:00 +0200", datetime(2021, 4, 28, 19, 50, tzinfo=UTC)),
        ("2016-08-12 15:23:28 UTC", datetime(2016, 8, 12, 15, 23, 28, tzinfo=UTC)),
        ("2016-08-12 10:23:28 -0500", datetime(2016, 8, 12, 15, 23, 28, tzinfo=UTC)),
        ("2021-04-28T21:50:00+02:00", datetime(2021, 4, 28, 19, 50, tzinfo=UTC)),
        ("2021-04-28T19:50:00.250Z", datetime(2021, 4, 28, 19, 50, 0, 250000, tzinfo=UTC)),
        (" 2016-08-12 15:23:28 UTC ", datetime(2016, 8, 12, 15, 23, 28, tzinfo=UTC)),
    ],
)
def test_gitlab_timestamps_parse_to_the_same_instant(text, expected):
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


def test_the_offset_is_kept():
    assert parse_time("2021-04-28 21:50:00 +0200").tzinfo == timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    "text",
    ["2021-04-28 21:50:00", "2021-04-28T21:50:00", "yesterday", "", "2021-13-01 00:00:00 UTC"],
)
def test_times_without_offset_or_not_times_are_refused(text):
    with pytest.raises(ValueError):  # noqa: PT011 - both causes are plain ValueErrors
        parse_time(text)
