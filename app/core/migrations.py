"""Run Alembic from inside the process, on the application's own async engine."""

from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command

ROOT = Path(__file__).resolve().parents[2]
# Any fixed 64-bit number: replicas starting together migrate one at a time.
_LOCK_ID = 0x6D7573746572


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    return config


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _run(engine: AsyncEngine, action: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            await connection.commit()
        if sqlite:
            # Batch mode rebuilds a table by dropping it, and with enforcement on SQLite's
            # implicit DELETE of the old table would cascade into every table referencing
            # it. The pragma only takes effect outside a transaction, hence before any work.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            await connection.run_sync(run)
            if sqlite:
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"migration left dangling references: {broken[:5]}")
            await connection.commit()
        finally:
            if sqlite:
                await connection.rollback()
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                await connection.commit()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    await _run(engine, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
