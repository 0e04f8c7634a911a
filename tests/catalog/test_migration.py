"""Migration 0022: services already named by deploys and incidents join the catalog."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from app.core import migrations
from app.core.db import Database
from app.models import metadata
from tests.conftest import BACKENDS, fresh_database, make_settings


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_services_named_before_the_catalog_join_it_unowned(backend_name, tmp_path):
    tables = metadata.tables
    now = datetime.now(UTC)
    async with fresh_database(backend_name, tmp_path) as url:
        database = Database.from_settings(make_settings(url))
        try:
            await migrations.upgrade(database.engine, "0021")
            async with database.engine.begin() as connection:
                for number, services in enumerate((["checkout", "search"], ["checkout"]), 1):
                    await connection.execute(
                        insert(tables["incidents"]).values(
                            id=uuid.uuid4(),
                            number=number,
                            title="t",
                            severity="sev2",
                            status="triggered",
                            services=services,
                            labels={},
                            source="api",
                            started_at=now,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                await connection.execute(
                    insert(tables["deploys"]).values(
                        id=uuid.uuid4(),
                        source="api",
                        kind="deploy",
                        service="ledger",
                        environment="production",
                        status="succeeded",
                        started_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
            await migrations.upgrade(database.engine)
            services = tables["services"]
            async with database.engine.connect() as connection:
                rows = (
                    await connection.execute(
                        select(services.c.name, services.c.owner_team, services.c.source).order_by(
                            services.c.name
                        )
                    )
                ).all()
                created = await connection.scalar(select(services.c.created_at).limit(1))
        finally:
            await database.dispose()
    assert [tuple(row) for row in rows] == [
        ("checkout", None, "seen"),
        ("ledger", None, "seen"),
        ("search", None, "seen"),
    ]
    assert created is not None
    assert abs((created - now).total_seconds()) < 120
