"""The outbox as a Server-Sent Events stream that a client can resume.

A stream position is a cursor `"<txid>-<seq>"` over the outbox ordered by
`(txid, seq)`. An ordinary sequence is not enough on PostgreSQL: numbers are taken at
insert but become visible at commit, so a reader that has seen `seq` 11 could later
see 10 commit, and skip it on resume. The inserting transaction's id (`txid`) fixes
that: rows are only read once their transaction is older than every transaction
still running (`txid < pg_snapshot_xmin(pg_current_snapshot())`), so nothing can
appear behind the cursor any more. The cost is that the stream trails the oldest
running write transaction of the database cluster, normally by milliseconds. On
SQLite writers are serial, `txid` is 0 and `seq` follows commit order by itself.

The generator opens a short read-only session per poll and never holds one between
polls: on SQLite the application has a single connection.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, literal, tuple_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.db import Database
from app.core.events import OutboxEvent
from app.core.sql import backend_of, settled
from app.notifications.schemas import StreamEvent

_CURSOR = re.compile(r"^(\d{1,19})-(\d{1,19})$")
BATCH = 100


@dataclass(frozen=True, order=True)
class Cursor:
    txid: int
    seq: int

    def __str__(self) -> str:
        return f"{self.txid}-{self.seq}"

    @classmethod
    def parse(cls, value: str) -> "Cursor | None":
        match = _CURSOR.match(value.strip())
        if match is None:
            return None
        txid, seq = int(match.group(1)), int(match.group(2))
        return cls(txid, seq) if max(txid, seq) < 2**63 else None


START = Cursor(0, 0)


def _settled(session: AsyncSession) -> list[ColumnElement[bool]]:
    """Only rows whose transaction can no longer have anything left to commit."""
    return settled(col(OutboxEvent.txid), backend_of(session))


async def tail(session: AsyncSession) -> Cursor:
    """The cursor after the last settled event: a stream from here sees only new ones."""
    last = (
        select_columns(col(OutboxEvent.txid), col(OutboxEvent.seq))
        .where(*_settled(session))
        .order_by(col(OutboxEvent.txid).desc(), col(OutboxEvent.seq).desc())
        .limit(1)
    )
    row = (await session.execute(last)).first()
    return Cursor(row[0] or 0, row[1] or 0) if row else START


async def cursor_of(session: AsyncSession, event_id: uuid.UUID) -> Cursor | None:
    """The position of a known event, for clients that resume from an event id."""
    row = (
        await session.execute(
            select_columns(col(OutboxEvent.txid), col(OutboxEvent.seq)).where(
                col(OutboxEvent.id) == event_id
            )
        )
    ).first()
    return Cursor(row[0] or 0, row[1] or 0) if row else None


async def read_after(
    session: AsyncSession, cursor: Cursor, *, limit: int, types: Sequence[str] | None = None
) -> list[OutboxEvent]:
    position = tuple_(col(OutboxEvent.txid), col(OutboxEvent.seq))
    statement = select(OutboxEvent).where(
        position > tuple_(literal(cursor.txid), literal(cursor.seq))
    )
    statement = statement.where(*_settled(session))
    if types:
        statement = statement.where(col(OutboxEvent.type).in_(types))
    statement = statement.order_by(col(OutboxEvent.txid), col(OutboxEvent.seq)).limit(limit)
    return list((await session.scalars(statement)).all())


def message(event: OutboxEvent) -> StreamEvent:
    return StreamEvent(
        id=event.id,
        type=event.type,
        timestamp=event.occurred_at,
        incident_id=event.incident_id,
        data=event.data,
    )


@dataclass(frozen=True)
class Item:
    """One thing to send: an event, or (event None) just the current position."""

    cursor: Cursor
    event: StreamEvent | None = None


async def follow(
    database: Database,
    cursor: Cursor,
    *,
    types: Sequence[str] | None,
    poll_seconds: float,
    once: bool,
    max_events: int | None,
) -> AsyncIterator[Item | None]:
    """The position first, then events after it as they settle; None after an idle poll.

    Ends after `max_events` events, or with `once` as soon as it has caught up;
    otherwise it runs until the client goes away (the response is then cancelled).
    """
    yield Item(cursor)
    sent = 0
    while True:
        wanted = BATCH if max_events is None else min(BATCH, max_events - sent)
        async with database.sessionmaker() as session:
            events = await read_after(session, cursor, limit=wanted, types=types)
        for event in events:
            cursor = Cursor(int(event.txid or 0), int(event.seq or 0))
            yield Item(cursor, message(event))
            sent += 1
        if max_events is not None and sent >= max_events:
            return
        if len(events) < wanted:
            if once:
                return
            yield None
            await asyncio.sleep(poll_seconds)
