"""The shared definitions behind postmortem and report figures (no database needed)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from app.core.aggregates import nearest_rank
from app.core.clock import utcnow
from app.incidents.models import Incident
from app.reports.measures import acknowledged_at, humanize, mitigated_at
from tests.clock import Clock

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return T + timedelta(minutes=n)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (45.9, "45 s"),
        (65, "1 min 5 s"),
        (120, "2 min"),
        (3600, "1 h"),
        (3605, "1 h"),
        (3900, "1 h 5 min"),
        (90_061, "1 d 1 h"),
        (-120, "-2 min"),
    ],
)
def test_durations_read_as_people_say_them(seconds, text):
    assert humanize(seconds) == text


def test_percentiles_are_nearest_rank():
    assert nearest_rank([], 50) is None
    assert nearest_rank([7.0], 90) == 7.0
    assert nearest_rank([600.0, 60.0, 360.0, 120.0], 50) == 120.0  # lower middle
    assert nearest_rank([600.0, 60.0, 360.0, 120.0], 90) == 600.0
    values = [float(n) for n in range(1, 11)]
    assert (nearest_rank(values, 50), nearest_rank(values, 90)) == (5.0, 9.0)
    assert nearest_rank([float(n) for n in range(1, 12)], 90) == 10.0


def incident(**stamps: datetime) -> Incident:
    return Incident(number=1, title="t", severity="sev3", started_at=T, **stamps)


def test_acknowledgement_is_the_ack_or_a_forward_move_to_investigating():
    assert acknowledged_at(incident(acknowledged_at=minutes(2), investigating_at=minutes(1))) == (
        minutes(2)
    )
    assert acknowledged_at(incident(investigating_at=minutes(3))) == minutes(3)
    assert acknowledged_at(incident(investigating_at=minutes(3), mitigated_at=minutes(9))) == (
        minutes(3)
    )
    # Alertmanager mitigated it, then an alert re-fired and reopened it: nobody acknowledged.
    reopened = incident(mitigated_at=minutes(5), investigating_at=minutes(8))
    assert acknowledged_at(reopened) is None
    assert acknowledged_at(incident(resolved_at=minutes(5))) is None


def test_mitigation_is_implied_by_resolution():
    assert mitigated_at(incident(mitigated_at=minutes(5), resolved_at=minutes(9))) == minutes(5)
    assert mitigated_at(incident(resolved_at=minutes(9))) == minutes(9)
    assert mitigated_at(incident()) is None


def test_the_test_clock_moves_only_when_told_and_then_lets_go():
    with time_machine.travel(T, tick=False) as traveller:
        clock = Clock(traveller)
        assert utcnow() == T
        clock.advance(minutes=5)
        assert utcnow() == minutes(5)
        clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
        assert utcnow() == minutes(180)
        with pytest.raises(ValueError, match="aware"):
            clock.set(datetime(2026, 3, 2, 12, 0))
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)
