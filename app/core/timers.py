"""Timers: work due at a time, kept as rows, fired once across replicas and restarts.

One mechanism for everything Muster does later rather than now (escalation levels,
update cadences, overdue reminders). A timer is a row: its `kind` (which handler runs
it), its `subject_id` (the incident, the action item…), a `key` telling timers of one
kind and subject apart (`level-2`), when it is due and a small JSON `payload`.
`(kind, subject_id, key)` is unique, so scheduling is idempotent.

- `schedule` (`schedule_new` for a subject made in the same transaction), `cancel`
  and `pending` only flush, inside the caller's transaction: a timer exists exactly
  when the change that scheduled it commits, and a cancel is undone with a rolled-back
  change.
- `TimerLoop` runs beside the dispatcher in every replica. It claims one due timer at a
  time (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the marking update takes the
  one write lock and re-checks the row), marks it fired and runs the handler registered
  for its kind in that same transaction. The handler's writes and the mark commit
  together: a replica killed mid-way leaves the timer due, and another replica — or
  this one after a restart — fires it. A handler that raises rolls back; the timer is
  retried later with back-off and given up after `MAX_ATTEMPTS`.
- A commit that scheduled a timer wakes this process's loop; other replicas see it at
  their next poll (`MUSTER_TIMER_POLL_SECONDS`, 0.5 s by default), so a timer fires
  within about that much of its due time.

A new kind is a handler `async def on_x(session, timer) -> None` (in `app/flows/`,
where it may use any service) added to `app.flows.timers.HANDLERS`. A replica only
claims the kinds it has handlers for.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, delete, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from app.core.clock import utcnow
from app.core.db import (
    TIMER_WAKE_UPS,
    Database,
    JSONType,
    UTCDateTime,
    add_row,
    after_commit,
    table_of,
    upsert_insert,
)

log = logging.getLogger("muster.timers")

MAX_ATTEMPTS = 10
BACKOFF_CAP_SECONDS = 300.0
# Due timers fired per loop turn before it looks at stopping again.
TURN_LIMIT = 100
_PENDING_SQL = text("status = 'pending'")


class TimerStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    FAILED = "failed"  # its handler raised MAX_ATTEMPTS times


class Timer(SQLModel, table=True):
    __tablename__ = "timers"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", "key"),
        Index("ix_timers_due", "due_at", sqlite_where=_PENDING_SQL, postgresql_where=_PENDING_SQL),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=64)
    subject_id: uuid.UUID
    key: str = Field(default="", max_length=100)
    due_at: datetime = Field(sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    status: TimerStatus = Field(default=TimerStatus.PENDING, sa_type=String(16))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


TimerHandler = Callable[[AsyncSession, Timer], Awaitable[None]]
Handlers = Mapping[str, TimerHandler]

_TABLE = table_of(Timer)


def _wake_after_commit(session: AsyncSession) -> None:
    for wake_up in session.info.get(TIMER_WAKE_UPS, ()):
        after_commit(session, wake_up)


def _new(kind: str, subject_id: uuid.UUID, key: str) -> dict[str, Any]:
    """A new timer row's identity columns."""
    return {
        "id": uuid.uuid4(),
        "kind": kind,
        "subject_id": subject_id,
        "key": key,
        "created_at": utcnow(),
    }


def _armed(due_at: datetime, payload: dict[str, Any] | None) -> dict[str, Any]:
    """The columns of a timer armed for `due_at`, pending and not yet tried."""
    return {
        "due_at": due_at,
        "payload": payload or {},
        "status": TimerStatus.PENDING.value,
        "attempts": 0,
        "last_error": None,
        "fired_at": None,
    }


async def schedule(
    session: AsyncSession,
    *,
    kind: str,
    subject_id: uuid.UUID,
    due_at: datetime,
    key: str = "",
    payload: dict[str, Any] | None = None,
    rearm: bool = False,
) -> bool:
    """Arm the timer `(kind, subject_id, key)` for `due_at`; True when this call armed it.

    Without `rearm`, a timer of that identity that exists (pending, fired or failed) is
    left as it is: scheduling twice is a no-op. With `rearm`, it is armed whatever its
    state: a pending one moves, a fired or failed one fires again (a cadence's next turn).
    """
    armed = _armed(due_at, payload)
    statement = upsert_insert(session, _TABLE).values(_new(kind, subject_id, key) | armed)
    identity = ["kind", "subject_id", "key"]
    if rearm:
        upsert = statement.on_conflict_do_update(index_elements=identity, set_=armed)
    else:
        upsert = statement.on_conflict_do_nothing(index_elements=identity)
    if (await session.execute(upsert.returning(_TABLE.c.id))).first() is None:
        return False
    _wake_after_commit(session)
    return True


def schedule_new(
    session: AsyncSession,
    *,
    kind: str,
    subject_id: uuid.UUID,
    due_at: datetime,
    key: str = "",
    payload: dict[str, Any] | None = None,
) -> None:
    """`schedule` for a subject made in this transaction, which no timer can name yet:
    the row is queued with the subject's own (`add_row`), no round trip of its own."""
    row = _new(kind, subject_id, key) | _armed(due_at, payload)
    add_row(session, _TABLE, row)
    _wake_after_commit(session)


async def cancel(
    session: AsyncSession, *, kind: str, subject_id: uuid.UUID, key: str | None = None
) -> int:
    """Remove the pending timers of `kind` for `subject_id` (only `key`'s, when given);
    fired ones stay as the record of what fired. Returns how many were removed."""
    statement = delete(Timer).where(
        col(Timer.kind) == kind,
        col(Timer.subject_id) == subject_id,
        col(Timer.status) == TimerStatus.PENDING,
    )
    if key is not None:
        statement = statement.where(col(Timer.key) == key)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def pending(session: AsyncSession, *, kind: str, subject_id: uuid.UUID) -> list[Timer]:
    """The pending timers of `kind` for `subject_id`, soonest first."""
    return list(
        (
            await session.scalars(
                select(Timer)
                .where(
                    col(Timer.kind) == kind,
                    col(Timer.subject_id) == subject_id,
                    col(Timer.status) == TimerStatus.PENDING,
                )
                .order_by(col(Timer.due_at))
            )
        ).all()
    )


async def claim_next(session: AsyncSession, kinds: Collection[str]) -> Timer | None:
    """Claim the most overdue pending timer of one of `kinds` and mark it fired, in the
    caller's transaction: its handler runs in that transaction too. None when nothing is
    due, or every due timer is being fired by another replica."""
    now = utcnow()
    due = (
        col(Timer.status) == TimerStatus.PENDING,
        col(Timer.due_at) <= now,
        col(Timer.kind).in_(list(kinds)),
    )
    timer = await session.scalar(
        select(Timer)
        .where(*due)
        .order_by(col(Timer.due_at))
        .limit(1)
        .with_for_update(skip_locked=True)  # one being fired elsewhere is left to it
    )
    if timer is None:
        return None
    # Repeats the conditions: on SQLite nothing was locked, and this update is where the
    # write lock is taken, so a timer fired meanwhile by another process is not fired again.
    marked = await session.execute(
        update(Timer)
        .where(col(Timer.id) == timer.id, *due)
        .values(status=TimerStatus.FIRED, fired_at=now)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.expunge(timer)  # a value from here on, kept as read even after a rollback
    return timer


async def record_failure(session: AsyncSession, timer: Timer, error: str) -> TimerStatus:
    """After its handler raised (and the transaction rolled back): due again with
    back-off, or failed for good after MAX_ATTEMPTS."""
    attempts = timer.attempts + 1
    status = TimerStatus.FAILED if attempts >= MAX_ATTEMPTS else TimerStatus.PENDING
    delay = timedelta(seconds=min(BACKOFF_CAP_SECONDS, 2.0**attempts))
    await session.execute(
        update(Timer)
        .where(col(Timer.id) == timer.id, col(Timer.status) == TimerStatus.PENDING)
        .values(
            status=status,
            attempts=attempts,
            last_error=error[:1000],
            due_at=utcnow() + delay,
        )
        .execution_options(synchronize_session=False)
    )
    return status


class TimerLoop:
    """Fires due timers in this replica until stopped; see the module's docstring."""

    def __init__(self, database: Database, handlers: Handlers, *, poll_seconds: float) -> None:
        self._database = database
        self._handlers = dict(handlers)
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if not self._handlers:
            return
        self._database.timer_listeners.append(self._wake.set)
        self._task = asyncio.create_task(self._run(), name="muster-timers")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        with contextlib.suppress(ValueError):
            self._database.timer_listeners.remove(self._wake.set)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            fired = 0
            try:
                while fired < TURN_LIMIT and not self._stopping.is_set():
                    if not await self._fire_one():
                        break
                    fired += 1
            except Exception as exc:  # the database is away: try again at the next poll
                log.warning("timers: a turn failed: %r", exc)
            if fired == TURN_LIMIT:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()
            self._wake.clear()

    async def _fire_one(self) -> bool:
        """Fire one due timer; False when none was due."""
        timer: Timer | None = None
        try:
            async with self._database.sessionmaker() as session, session.begin():
                timer = await claim_next(session, self._handlers)
                if timer is None:
                    return False
                await self._handlers[timer.kind](session, timer)
        except Exception as exc:
            if timer is None:
                raise
            await self._failed(timer, exc)
            return True
        log.info(
            "timer %s %s fired",
            timer.kind,
            timer.key,
            extra={"timer_id": str(timer.id), "subject_id": str(timer.subject_id)},
        )
        return True

    async def _failed(self, timer: Timer, exc: Exception) -> None:
        async with self._database.sessionmaker() as session, session.begin():
            status = await record_failure(session, timer, repr(exc))
        log.warning(
            "timer %s %s failed (%s): %r",
            timer.kind,
            timer.key,
            "given up" if status == TimerStatus.FAILED else "retried later",
            exc,
            extra={"timer_id": str(timer.id), "subject_id": str(timer.subject_id)},
        )
