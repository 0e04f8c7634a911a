"""Migration 0009 keeps the outbox's history: numbered in order and not sent again."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import migrations
from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime
from tests.conftest import BACKENDS, fresh_database, make_settings

OLD_OUTBOX = sa.table(
    "outbox_events",
    sa.column("id", sa.Uuid()),
    sa.column("type", sa.String()),
    sa.column("incident_id", sa.Uuid()),
    sa.column("data", JSONType),
    sa.column("occurred_at", UTCDateTime()),
)


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_existing_events_are_numbered_in_order_and_marked_fanned_out(backend_name, tmp_path):
    from app.core.db import Database

    async with fresh_database(backend_name, tmp_path) as url:
        database = Database.from_settings(make_settings(url))
        try:
            await migrations.upgrade(database.engine, "0008")
            now = utcnow()
            later, earlier = uuid.uuid4(), uuid.uuid4()
            async with database.engine.begin() as connection:
                await connection.execute(
                    sa.insert(OLD_OUTBOX),
                    [
                        {"id": later, "type": "incident.updated", "data": {}, "occurred_at": now},
                        {
                            "id": earlier,
                            "type": "incident.created",
                            "data": {},
                            "occurred_at": now - timedelta(minutes=1),
                        },
                    ],
                )
            await migrations.upgrade(database.engine)
            async with database.engine.connect() as connection:
                rows = (
                    await connection.execute(
                        sa.text(
                            "SELECT id, seq, txid, fanned_out_at FROM outbox_events ORDER BY seq"
                        )
                    )
                ).all()
            assert [uuid.UUID(str(row.id)) for row in rows] == [earlier, later]
            assert all(row.fanned_out_at is not None and row.txid == 0 for row in rows)

            await migrations.downgrade(database.engine, "0008")
            async with database.engine.connect() as connection:
                kept = await connection.scalar(sa.text("SELECT count(*) FROM outbox_events"))
            assert kept == 2
        finally:
            await database.dispose()
