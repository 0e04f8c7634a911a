"""Migrations run forwards and backwards on both databases and match the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.core import migrations
from app.core.db import Database
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
                    lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
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
