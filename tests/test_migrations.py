"""Migrations run forwards and backwards on both databases and match the models."""

import uuid
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, update
from sqlalchemy.exc import IntegrityError

from app.core import migrations
from app.core.db import Database, exists_on
from app.models import metadata
from tests.conftest import BACKENDS, fresh_database, make_settings


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_upgrade_matches_models_and_downgrade_removes_everything(backend_name, tmp_path):
    async with fresh_database(backend_name, tmp_path) as url:
        database = Database.from_settings(make_settings(url))
        try:
            await migrations.upgrade(database.engine)
            assert await migrations.current_revision(database.engine) == migrations.head_revision()
            async with database.engine.connect() as connection:
                diff = await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(
                            sync,
                            opts={"include_object": lambda o, *_: exists_on(sync.dialect.name, o)},
                        ),
                        metadata,
                    )
                )
            assert diff == [], f"models and migrations differ: {diff}"

            await migrations.downgrade(database.engine, "base")
            async with database.engine.connect() as connection:
                tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            assert set(tables) <= {"alembic_version"}

            await migrations.upgrade(database.engine)
            assert await migrations.current_revision(database.engine) == migrations.head_revision()
        finally:
            await database.dispose()


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_upgrading_a_used_database_keeps_its_rows_and_enforces_foreign_keys(
    backend_name, tmp_path
):
    """Rebuilding `incidents` (SQLite batch mode) must not cascade into the tables that
    reference it, and a cause that names no deploy is cleared before the key is added."""
    tables = metadata.tables
    now = datetime.now(UTC)
    incident_id = uuid.uuid4()
    async with fresh_database(backend_name, tmp_path) as url:
        database = Database.from_settings(make_settings(url))
        try:
            await migrations.upgrade(database.engine, "0005")
            async with database.engine.begin() as connection:
                await connection.execute(
                    insert(tables["incidents"]).values(
                        id=incident_id,
                        number=1,
                        title="t",
                        severity="sev2",
                        status="triggered",
                        services=[],
                        labels={},
                        source="api",
                        caused_by_deploy_id=uuid.uuid4(),  # unchecked before 0007
                        started_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
                await connection.execute(
                    insert(tables["timeline_entries"]).values(
                        id=uuid.uuid4(),
                        incident_id=incident_id,
                        kind="note",
                        summary="kept",
                        data={},
                        occurred_at=now,
                        created_at=now,
                    )
                )
            await migrations.upgrade(database.engine)

            async with database.engine.connect() as connection:
                kept = await connection.scalar(select(tables["timeline_entries"].c.summary))
                cause = await connection.scalar(select(tables["incidents"].c.caused_by_deploy_id))
            assert (kept, cause) == ("kept", None)
            async with database.engine.connect() as connection:
                with pytest.raises(IntegrityError):
                    await connection.execute(
                        update(tables["incidents"]).values(caused_by_deploy_id=uuid.uuid4())
                    )
        finally:
            await database.dispose()
