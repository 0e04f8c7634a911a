"""Engine, session dependency, column types and the metadata naming convention."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Request
from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Index,
    Insert,
    Table,
    TextClause,
    bindparam,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from app.core.pool import FairAsyncPool
from app.core.settings import Settings

log = logging.getLogger("muster.db")
# How often an idle LISTEN connection is checked, so a silently dead one is noticed.
LISTEN_CHECK_SECONDS = 30.0

# Stable constraint names on both backends; set before any table model is defined.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


def table_of(model: type[SQLModel]) -> Table:
    """The table of a table model, typed (SQLModel does not declare `__table__`)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def postgresql_only(index: Index) -> Index:
    """An index that exists on PostgreSQL only (GIN and the like); migrations agree."""
    index.info["dialect"] = "postgresql"
    return index.ddl_if(dialect="postgresql")


def exists_on(dialect: str, obj: Any) -> bool:
    """Whether a schema object of the models exists on `dialect` (for autogenerate)."""
    return obj.info.get("dialect", dialect) == dialect if isinstance(obj, Index) else True


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on PostgreSQL and SQLite alike.

    SQLite stores no offset, so values are normalised to UTC before storing and
    read back as aware datetimes; naive datetimes are refused outright.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Muster stores aware UTC timestamps only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.driver == "asyncpg":
            return None  # it reads timestamptz as aware UTC datetimes: nothing to do
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=5000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _json_dumps(value: Any) -> str:
    # default=str: asyncpg's own UUID type, which orjson does not know (read ids
    # end up in queued rows, see `_insert_everything`)
    return orjson.dumps(value, default=str).decode()


# orjson for JSON columns: labels, data and payloads are (de)serialised on every row.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def make_engine(settings: Settings) -> AsyncEngine:
    # hide_parameters: no bound value (a token, a secret, a caller's text) in any
    # error message or log line, whatever fails.
    if settings.is_sqlite:
        # One connection: SQLite has one writer, and a bigger pool only adds queueing latency.
        engine = create_async_engine(
            settings.database_url,
            poolclass=FairAsyncPool,
            pool_size=1,
            max_overflow=0,
            hide_parameters=True,
            **_JSON_CODEC,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.database_url,
        poolclass=FairAsyncPool,
        # A fixed pool: overflow connections would be opened and closed per burst,
        # and a new connection (TLS negotiation included) costs more than waiting.
        pool_size=settings.db_pool_size,
        max_overflow=0,
        # No pre-ping: it costs a round trip per request. A connection found dead
        # fails that one request (503, which senders retry) and the pool is renewed.
        pool_recycle=1800,
        pool_timeout=10,
        hide_parameters=True,
        **_JSON_CODEC,
    )


_PENDING = "muster.pending_rows"
# Queued tables whose rows are skipped when their key exists: table -> key columns.
_SKIP_EXISTING = "muster.skip_existing"


class BatchingSession(Session):
    """A session that also writes plain rows queued with `add_row`, batched per table.

    Queued rows are written right after every flush (explicit, automatic before a
    query, or at commit), after the ORM objects they may refer to: queries see them
    as they see flushed objects, and they are committed or rolled back with the rest.
    Rows that nothing reads back in the request (timeline entries, events, alerts,
    checklist items) skip building ORM objects, the most costly part of a write.
    """

    def flush(self, objects: Any = None) -> None:
        super().flush(objects)
        pending: dict[Table, list[dict[str, Any]]] | None = self.info.pop(_PENDING, None)
        if not pending:
            return
        keys: dict[Table, tuple[str, ...]] = self.info.pop(_SKIP_EXISTING, {})
        for table, key in keys.items():
            pending[table] = _first_of_each_key(pending[table], key)
        tables = sorted(pending, key=_dependency_order().__getitem__)
        connection = self.connection()
        if connection.dialect.name == "postgresql":
            shape = tuple(
                (table, tuple(pending[table][0]), keys.get(table, ())) for table in tables
            )
            rows = {f"rows_{n}": pending[table] for n, table in enumerate(tables)}
            connection.execute(_insert_everything(shape), rows)
        else:
            for table in tables:
                statement = sqlite_insert(table)
                if table in keys:
                    statement = statement.on_conflict_do_nothing(index_elements=keys[table])
                connection.execute(statement, pending[table])


def _first_of_each_key(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """The first row queued for each key, in the order queued."""
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(tuple(row[column] for column in key), row)
    return list(unique.values())


@cache
def _dependency_order() -> dict[Table, int]:
    """Tables by foreign-key dependency, parents first (sorting them on every flush costs)."""
    return {table: n for n, table in enumerate(SQLModel.metadata.sorted_tables)}


@cache
def _insert_everything(
    shape: tuple[tuple[Table, tuple[str, ...], tuple[str, ...]], ...],
) -> TextClause:
    """PostgreSQL: the queued rows of every table in one statement, one round trip.

    Each table's rows are bound as one JSON array and expanded by
    `jsonb_populate_recordset`; foreign keys are checked at the end of the statement,
    when every row is in. A table with key columns skips rows whose key exists
    (`ON CONFLICT DO NOTHING`). Built once per shape: the tables, their rows' columns
    and keys.
    """
    inserts = []
    for n, (table, columns, key) in enumerate(shape):
        names = ", ".join(f'"{column}"' for column in columns)
        skip = f" ON CONFLICT ({', '.join(key)}) DO NOTHING" if key else ""
        inserts.append(
            f'i{n} AS (INSERT INTO "{table.name}" ({names}) SELECT {names} '
            f'FROM jsonb_populate_recordset(NULL::"{table.name}", :rows_{n}){skip})'
        )
    statement = text(f"WITH {', '.join(inserts)} SELECT 1")
    return statement.bindparams(*(bindparam(f"rows_{n}", type_=JSONB) for n in range(len(shape))))


@event.listens_for(BatchingSession, "before_commit")
def _flush_queued_rows(session: Session) -> None:
    session.flush()  # the ORM skips a flush when only queued rows are pending


@event.listens_for(BatchingSession, "after_soft_rollback")
def _drop_queued_rows(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_SKIP_EXISTING, None)
    session.info.pop(_AFTER_COMMIT, None)
    session.info.pop(_OUTBOX_WRITTEN, None)


_AFTER_COMMIT = "muster_after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's transaction has committed; never if it rolls back.

    For effects outside the database (process metrics): a change that rolls back must
    leave no trace.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(BatchingSession, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, ()):
        callback()


def add_row(session: AsyncSession, table: Table, row: dict[str, Any]) -> None:
    """Queue `row` (every column, defaults included) for `table`; see `BatchingSession`."""
    session.info.setdefault(_PENDING, {}).setdefault(table, []).append(row)


def add_row_unless_present(
    session: AsyncSession, table: Table, row: dict[str, Any], key: tuple[str, ...]
) -> None:
    """Queue `row` like `add_row`, skipped at writing when a row with its `key` exists
    or was queued before it: every such row of a flush goes in one
    `INSERT … ON CONFLICT (key) DO NOTHING`."""
    session.info.setdefault(_SKIP_EXISTING, {})[table] = key
    add_row(session, table, row)


# Outbox commits wake the dispatchers: in this process through the wake-ups that the
# Database hands every session it makes, across replicas through PostgreSQL's NOTIFY
# (a statement trigger on outbox_events, migration 0017) and `Database.listen`.
OUTBOX_CHANNEL = "muster_outbox"
_OUTBOX_WAKE_UPS = "muster.outbox_wake_ups"
_OUTBOX_WRITTEN = "muster.outbox_written"
# Likewise a commit that scheduled a timer wakes this process's timer loop (core/timers.py).
TIMER_WAKE_UPS = "muster.timer_wake_ups"


def mark_outbox_written(session: AsyncSession) -> None:
    """Once this session's transaction commits, wake whoever waits for outbox rows."""
    if session.info.get(_OUTBOX_WRITTEN):
        return
    session.info[_OUTBOX_WRITTEN] = True
    wake_ups = session.info.get(_OUTBOX_WAKE_UPS, ())

    def wake() -> None:
        session.info.pop(_OUTBOX_WRITTEN, None)
        for wake_up in wake_ups:
            wake_up()

    after_commit(session, wake)


@dataclass
class Database:
    engine: AsyncEngine
    # For what only reads: on PostgreSQL, no BEGIN and COMMIT (two round trips fewer).
    # Under READ COMMITTED every statement takes its own snapshot anyway, so a read
    # sees exactly what it would have seen in a transaction. SQLite keeps its
    # transactions, which give a request one snapshot.
    reader: AsyncEngine

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        engine = make_engine(settings)
        if settings.is_sqlite:
            return cls(engine, engine)
        return cls(engine, engine.execution_options(isolation_level="AUTOCOMMIT"))

    def __post_init__(self) -> None:
        self.outbox_listeners: list[Callable[[], None]] = []
        self.timer_listeners: list[Callable[[], None]] = []
        self.sessionmaker = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            sync_session_class=BatchingSession,
            info={_OUTBOX_WAKE_UPS: self.outbox_listeners, TIMER_WAKE_UPS: self.timer_listeners},
        )
        self.read_sessionmaker = async_sessionmaker(
            self.reader, expire_on_commit=False, sync_session_class=BatchingSession
        )

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def listen(self, channel: str, notified: Callable[[], None]) -> None:
        """Calls `notified` on each NOTIFY on `channel` from any process, until cancelled.

        PostgreSQL only (SQLite serves one process, whose commits wake it directly).
        The LISTEN connection is the driver's own, outside the pool; when it is lost,
        it is opened again with back-off, and `notified` is called once it is back, for
        what may have been missed meanwhile.
        """
        if self.engine.dialect.name != "postgresql":
            return
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        delay = 0.5
        while True:
            try:
                await _listen_until_lost(dsn, channel, notified)
                delay = 0.5
                log.warning("the LISTEN connection on %s was lost; reconnecting", channel)
            except Exception as exc:  # refused, or a dead connection: any driver error
                log.warning("cannot LISTEN on %s (retrying in %.1f s): %r", channel, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


async def _listen_until_lost(dsn: str, channel: str, notified: Callable[[], None]) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    lost = asyncio.Event()
    try:
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(channel, lambda *_: notified())
        notified()
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LISTEN_CHECK_SECONDS):
                    await lost.wait()
            if not lost.is_set():
                await connection.execute("SELECT 1")
    finally:
        connection.terminate()


_READS = frozenset({"GET", "HEAD"})


async def _app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _app_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


# The app's settings and database as handlers receive them (create_app sets both).
SettingsDep = Annotated[Settings, Depends(_app_settings)]
DatabaseDep = Annotated[Database, Depends(_app_database)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit on success, roll back on any error.

    Used with `scope="function"`, so the commit happens before the response is sent
    and a failed commit turns into an error response rather than a lie. GET and HEAD
    requests get a read session (see `Database.read_sessionmaker`).
    """
    database = await _app_database(request)
    maker = database.read_sessionmaker if request.method in _READS else database.sessionmaker
    async with maker() as session:
        if request.method not in _READS:  # the audit trail records the write in it
            request.state.transaction = session
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def upsert_insert(session: AsyncSession, table: Table) -> PostgresInsert | SqliteInsert:
    """`INSERT` in the session's dialect, with its `on_conflict_*` methods."""
    dialect = session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


@cache
def _insert_ignoring(dialect: str, table: Table, conflict_on: tuple[str, ...]) -> Insert:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).on_conflict_do_nothing(index_elements=list(conflict_on))
    return statement.returning(table.c[conflict_on[0]])


async def insert_ignoring_conflict(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], conflict_on: list[str]
) -> bool:
    """`INSERT … ON CONFLICT DO NOTHING`; True when the row was inserted.

    On PostgreSQL a conflicting insert waits for the transaction holding the key,
    so exactly one of any number of concurrent callers wins. The statement is built
    once per table and the values are bound at execution (it is on hot paths).
    """
    statement = _insert_ignoring(
        session.get_bind().dialect.name, table_of(model), tuple(conflict_on)
    )
    # A Core statement does not autoflush: rows queued with `add_row` (the existing
    # row this insert may meet among them) are written first, as before a query.
    await session.flush()
    result = await session.execute(statement, values)
    return result.first() is not None
