"""Timers: scheduled in a transaction, fired once by whichever loop claims them first,
with the handler's writes; a handler that fails is retried, a crashed claim is taken over."""

import asyncio
import time
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from app.core import timers
from app.core.clock import utcnow
from app.core.db import Database
from app.core.events import EventType, OutboxEvent, record_event
from app.core.timers import Timer, TimerLoop, TimerStatus
from tests.notifications.receiver import eventually

KIND = "test.ping"


async def _fired_events(database: Database) -> list[dict[str, str]]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(OutboxEvent.data).order_by("seq"))).all())


async def _write_event(session, timer: Timer) -> None:
    """A handler whose write commits with the timer's mark, or not at all."""
    record_event(
        session,
        EventType.DEPLOY_RECORDED,
        {"timer": str(timer.id), "key": timer.key, "payload": timer.payload},
    )


async def _timer(database: Database, subject: uuid.UUID, key: str = "") -> Timer | None:
    async with database.sessionmaker() as session:
        return await session.scalar(
            select(Timer).where(Timer.kind == KIND, Timer.subject_id == subject, Timer.key == key)
        )


async def _schedule(database: Database, subject: uuid.UUID, due_in: float, **fields) -> bool:
    async with database.sessionmaker() as session, session.begin():
        return await timers.schedule(
            session,
            kind=KIND,
            subject_id=subject,
            due_at=utcnow() + timedelta(seconds=due_in),
            **fields,
        )


async def test_scheduling_is_idempotent_and_undone_with_its_transaction(database):
    subject = uuid.uuid4()
    assert await _schedule(database, subject, 60, key="a", payload={"n": 1})
    assert not await _schedule(database, subject, 1, key="a", payload={"n": 2}), "already armed"
    assert await _schedule(database, subject, 60, key="b")
    async with database.sessionmaker() as session:
        await timers.schedule(session, kind=KIND, subject_id=subject, key="c", due_at=utcnow())
        await session.rollback()
    armed = await _timer(database, subject, "a")
    assert armed is not None
    assert armed.payload == {"n": 1}
    assert armed.due_at > utcnow() + timedelta(seconds=50), "the first schedule stands"
    assert await _timer(database, subject, "c") is None

    async with database.sessionmaker() as session, session.begin():
        assert await timers.cancel(session, kind=KIND, subject_id=subject, key="a") == 1
        assert [t.key for t in await timers.pending(session, kind=KIND, subject_id=subject)] == [
            "b"
        ]
        assert await timers.cancel(session, kind=KIND, subject_id=subject) == 1
    assert await _timer(database, subject, "b") is None


async def test_a_due_timer_fires_once_on_time_with_its_handlers_writes(database):
    subject = uuid.uuid4()
    loop = TimerLoop(database, {KIND: _write_event}, poll_seconds=0.2)
    loop.start()
    try:
        assert await _schedule(database, subject, 1.0, key="soon", payload={"level": 1})
        due = time.monotonic() + 1.0
        (event,) = await eventually(lambda: _fired_events(database), timeout=5, message="fire")
        late = time.monotonic() - due
        assert -0.05 < late < 1.0, f"fired {late:.2f} s after due"
        await asyncio.sleep(0.5)
        assert len(await _fired_events(database)) == 1, "fired once"
    finally:
        await loop.stop()
    fired = await _timer(database, subject, "soon")
    assert fired is not None
    assert fired.status == TimerStatus.FIRED
    assert fired.fired_at is not None
    assert event == {"timer": str(fired.id), "key": "soon", "payload": {"level": 1}}
    # Fired timers stay: scheduling the same one again fires nothing.
    assert not await _schedule(database, subject, 0, key="soon")


async def test_a_commit_that_schedules_a_due_timer_wakes_the_loop(database):
    loop = TimerLoop(database, {KIND: _write_event}, poll_seconds=30)
    loop.start()
    try:
        await asyncio.sleep(0.2)  # the loop's first look found nothing: it now sleeps 30 s
        started = time.monotonic()
        await _schedule(database, uuid.uuid4(), 0)
        await eventually(lambda: _fired_events(database), timeout=3, message="the wake-up")
        assert time.monotonic() - started < 1
    finally:
        await loop.stop()


async def test_rearming_moves_a_pending_timer_and_arms_a_fired_one_again(database):
    subject = uuid.uuid4()
    loop = TimerLoop(database, {KIND: _write_event}, poll_seconds=0.1)
    loop.start()
    try:
        await _schedule(database, subject, 0, key="cadence", payload={"turn": 1})
        await eventually(lambda: _fired_events(database), message="the first turn")
        async with database.sessionmaker() as session, session.begin():
            for due_in, payload in ((3600, {"turn": 2}), (0, {"turn": 3})):
                assert await timers.schedule(
                    session,
                    kind=KIND,
                    subject_id=subject,
                    key="cadence",
                    due_at=utcnow() + timedelta(seconds=due_in),
                    payload=payload,
                    rearm=True,
                )
        events = await eventually(
            lambda: _at_least(database, 2), message="the second turn", timeout=3
        )
        assert [event["payload"] for event in events] == [{"turn": 1}, {"turn": 3}]
    finally:
        await loop.stop()


async def _at_least(database: Database, count: int) -> list[dict[str, str]] | None:
    events = await _fired_events(database)
    return events if len(events) >= count else None


async def test_a_failing_handler_rolls_back_and_is_retried_then_given_up(database):
    subject = uuid.uuid4()
    calls: list[int] = []

    async def flaky(session, timer: Timer) -> None:
        await _write_event(session, timer)
        calls.append(timer.attempts)
        if len(calls) == 1:
            raise RuntimeError("the handler broke")

    loop = TimerLoop(database, {KIND: flaky}, poll_seconds=0.1)
    loop.start()
    try:
        await _schedule(database, subject, 0)

        async def failed_once() -> Timer | None:
            timer = await _timer(database, subject)
            return timer if timer is not None and timer.attempts == 1 else None

        failed = await eventually(failed_once, message="the failure")
        assert failed.status == TimerStatus.PENDING
        assert failed.attempts == 1
        assert "the handler broke" in (failed.last_error or "")
        assert await _fired_events(database) == [], "the failed handler's write rolled back"
        # Back-off: due again 2 s later, then the second call succeeds.
        assert failed.due_at > utcnow() + timedelta(seconds=1)
        (event,) = await eventually(lambda: _fired_events(database), timeout=5, message="retry")
        assert calls == [0, 1]
        assert event["timer"] == str(failed.id)
    finally:
        await loop.stop()

    subject = uuid.uuid4()
    await _schedule(database, subject, 0)
    armed = await _timer(database, subject)
    assert armed is not None
    armed.attempts = timers.MAX_ATTEMPTS - 1
    async with database.sessionmaker() as session, session.begin():
        assert await timers.record_failure(session, armed, "again") == TimerStatus.FAILED
    given_up = await _timer(database, subject)
    assert given_up is not None
    assert given_up.status == TimerStatus.FAILED


async def test_only_kinds_with_a_handler_are_claimed(database):
    subject = uuid.uuid4()
    async with database.sessionmaker() as session, session.begin():
        await timers.schedule(session, kind="test.unknown", subject_id=subject, due_at=utcnow())
    loop = TimerLoop(database, {KIND: _write_event}, poll_seconds=0.1)
    loop.start()
    try:
        await asyncio.sleep(0.4)
    finally:
        await loop.stop()
    async with database.sessionmaker() as session:
        left = await session.scalar(select(Timer).where(Timer.subject_id == subject))
    assert left is not None
    assert left.status == TimerStatus.PENDING


async def test_a_claim_held_by_a_crashing_replica_is_fired_by_another(app, database):
    """A claim whose transaction dies (SIGKILL, lost connection) leaves the timer due."""
    subject = uuid.uuid4()
    await _schedule(database, subject, 0)
    other = Database.from_settings(app.state.settings)
    loop = TimerLoop(other, {KIND: _write_event}, poll_seconds=0.1)
    try:
        async with database.sessionmaker() as crashing:
            claimed = await timers.claim_next(crashing, [KIND])
            assert claimed is not None
            loop.start()
            await asyncio.sleep(0.5)
            # (read through the other database: SQLite's pool of one is the crashing claim's)
            assert await _fired_events(other) == [], "the live claim is left alone"
            await crashing.rollback()
        (event,) = await eventually(lambda: _fired_events(other), timeout=8, message="fire")
        assert event["timer"] == str(claimed.id)
    finally:
        await loop.stop()
        await other.dispose()


async def test_two_replicas_fire_each_of_many_timers_exactly_once(app, database):
    subjects = [uuid.uuid4() for _ in range(40)]
    async with database.sessionmaker() as session, session.begin():
        for n, subject in enumerate(subjects):
            await timers.schedule(
                session,
                kind=KIND,
                subject_id=subject,
                due_at=utcnow() + timedelta(seconds=0.5 + n % 5 * 0.1),
            )
    other = Database.from_settings(app.state.settings)
    loops = [
        TimerLoop(database, {KIND: _write_event}, poll_seconds=0.05),
        TimerLoop(other, {KIND: _write_event}, poll_seconds=0.05),
    ]
    for loop in loops:
        loop.start()
    try:
        await eventually(lambda: _at_least(database, len(subjects)), timeout=20, message="all")
        await asyncio.sleep(0.5)
    finally:
        for loop in loops:
            await loop.stop()
        await other.dispose()
    events = await _fired_events(database)
    assert len(events) == len(subjects)
    assert len({event["timer"] for event in events}) == len(subjects)
    async with database.sessionmaker() as session:
        fired = await session.scalar(
            select(func.count()).select_from(Timer).where(Timer.status == TimerStatus.FIRED)
        )
    assert fired == len(subjects)
