"""Rows queued with `add_row` behave as flushed ORM objects: seen, committed or undone."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.alerts.models import Alert, AlertStatus
from app.core.db import add_row
from app.core.events import EventType, OutboxEvent, record_event


def _count():
    return select(func.count()).select_from(OutboxEvent)


async def test_queued_rows_are_seen_by_queries_and_written_at_commit(database):
    async with database.sessionmaker() as session, session.begin():
        record_event(session, EventType.DEPLOY_RECORDED, {"n": 1})
        record_event(session, EventType.DEPLOY_RECORDED, {"n": 2})
        assert await session.scalar(_count()) == 2, "written before a query reads the table"
        # only the commit writes this one
        record_event(session, EventType.DEPLOY_RECORDED, {"n": 3})
    async with database.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))).all()
    assert [row.data["n"] for row in rows] == [1, 2, 3]
    assert len({row.id for row in rows}) == 3


async def test_queued_rows_are_dropped_with_a_rollback(database):
    async with database.sessionmaker() as session:
        record_event(session, EventType.DEPLOY_RECORDED, {"n": 1})
        await session.flush()
        record_event(session, EventType.DEPLOY_RECORDED, {"n": 2})  # still queued
        await session.rollback()
        record_event(session, EventType.DEPLOY_RECORDED, {"n": 3})
        await session.commit()
    async with database.sessionmaker() as session:
        assert (await session.scalars(select(OutboxEvent.data))).all() == [{"n": 3}]


async def test_queued_rows_of_several_tables_keep_every_value(client, database):
    """On PostgreSQL all queued tables go in one statement, as JSON: nothing is lost."""
    incident = (await client.post("/api/v1/incidents", json={"title": "t"})).json()
    started = datetime(2026, 11, 28, 14, 1, 26, 70001, tzinfo=UTC)
    labels = {"alertname": 'Odd "name" \\ é 🔥', "nested": '[1, {"a": null}]'}
    alert = {
        "id": uuid.uuid4(),
        "incident_id": uuid.UUID(incident["id"]),
        "fingerprint": "f" * 64,
        "alertname": None,
        "status": AlertStatus.FIRING,
        "labels": labels,
        "annotations": {},
        "starts_at": started,
        "ends_at": None,
        "generator_url": "http://prometheus/graph?g0.expr=a%3E1",
        "first_received_at": started,
        "last_received_at": started,
        "received_count": 2**31 - 1,
    }
    async with database.sessionmaker() as session, session.begin():
        add_row(session, Alert.__table__, alert)
        record_event(session, EventType.DEPLOY_RECORDED, {"list": [1, None, "x"], "when": "now"})
    async with database.sessionmaker() as session:
        stored = await session.get(Alert, alert["id"])
        event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.type == EventType.DEPLOY_RECORDED.value)
        )
    assert stored is not None
    assert event is not None
    assert {column: getattr(stored, column) for column in alert} == alert
    assert event.data == {"list": [1, None, "x"], "when": "now"}
