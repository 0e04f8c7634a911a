"""Alembic environment: async engines, batch mode on SQLite, one shared metadata.

`app.core.migrations` hands in an open connection; plain `alembic` builds one from
MUSTER_DATABASE_URL.
"""

import asyncio

from sqlalchemy.engine import Connection

from alembic import context
from app.core.db import exists_on, make_engine
from app.core.settings import Settings
from app.models import metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=lambda obj, *_: exists_on(connection.dialect.name, obj),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = make_engine(Settings())
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # As in app.core.migrations: batch rebuilds must not cascade deletes.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await connection.run_sync(run_with)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_with(connection)
elif context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
else:
    asyncio.run(run_online())
