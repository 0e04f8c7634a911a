"""Rows queued with `add_row` behave as flushed ORM objects: seen, committed or undone."""

from sqlalchemy import func, select

from app.core.events import EventType, OutboxEvent, emit


def _count():
    return select(func.count()).select_from(OutboxEvent)


async def test_queued_rows_are_seen_by_queries_and_written_at_commit(database):
    async with database.sessionmaker() as session, session.begin():
        emit(session, EventType.DEPLOY_RECORDED, {"n": 1})
        emit(session, EventType.DEPLOY_RECORDED, {"n": 2})
        assert await session.scalar(_count()) == 2, "written before a query reads the table"
        emit(session, EventType.DEPLOY_RECORDED, {"n": 3})  # only the commit writes this one
    async with database.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))).all()
    assert [row.data["n"] for row in rows] == [1, 2, 3]
    assert len({row.id for row in rows}) == 3


async def test_queued_rows_are_dropped_with_a_rollback(database):
    async with database.sessionmaker() as session:
        emit(session, EventType.DEPLOY_RECORDED, {"n": 1})
        await session.flush()
        emit(session, EventType.DEPLOY_RECORDED, {"n": 2})  # still queued
        await session.rollback()
        emit(session, EventType.DEPLOY_RECORDED, {"n": 3})
        await session.commit()
    async with database.sessionmaker() as session:
        assert (await session.scalars(select(OutboxEvent.data))).all() == [{"n": 3}]
