"""A stopped clock for tests that assert exact times: `utcnow()` moves only when told."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app.core.clock import FrozenClock, frozen_clock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """`utcnow()` stopped at T0 for the test; move it with `clock.advance(minutes=…)`."""
    with frozen_clock(T0) as frozen:
        yield frozen
