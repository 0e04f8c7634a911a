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

PACKAGE = Path(__file__).resolve().parents[1]
# A wheel carries the migration environment inside the package (see setup.py).
BUNDLED_SCRIPTS = PACKAGE / "_alembic"
# A checkout (or an editable install) has it at the top of the source tree.
SOURCE_TREE = PACKAGE.parent
# Any fixed 64-bit number: replicas starting together migrate one at a time.
_LOCK_ID = 0x6D7573746572


class MigrationsNotFound(RuntimeError):
    pass


def script_location() -> Path:
    """Where the Alembic environment (env.py, versions/) is: in the package, or in the checkout."""
    if (BUNDLED_SCRIPTS / "env.py").is_file():
        return BUNDLED_SCRIPTS
    # alembic.ini marks a checkout: next to an installed package, `alembic/` is the library.
    if (SOURCE_TREE / "alembic.ini").is_file() and (SOURCE_TREE / "alembic" / "env.py").is_file():
        return SOURCE_TREE / "alembic"
    raise MigrationsNotFound(
        f"no migration scripts in {BUNDLED_SCRIPTS} nor in a source tree at {SOURCE_TREE}; "
        "install Muster from a wheel built with its setup.py, or run it from a checkout"
    )


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return config


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@cache
def known_revisions() -> frozenset[str]:
    return frozenset(
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def schema_is_servable(revision: str | None) -> bool:
    """Whether this code can serve a database whose schema is at `revision`.

    At this code's head, yes; at an older revision of ours, no (run the migrations). At
    a revision this code does not know, yes: a newer release migrated the database while
    this one still serves, as in a rolling upgrade, and migrations keep the previous
    release working (docs/operations.md, "Scaling").
    """
    if revision is None:
        return False
    return revision == head_revision() or revision not in known_revisions()


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
