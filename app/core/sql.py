"""Where PostgreSQL and SQLite differ, and the planner tricks: one named helper each.

Domain code never asks which database it runs on. It passes the session's `Backend`
(`backend_of`) to these helpers, which build the SQL for it; a domain that builds a
statement once keeps it per backend. Each helper is tested on both databases
(tests/core/test_sql.py); measurements behind the tricks are in docs/performance.md.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Interval,
    Select,
    String,
    Table,
    any_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    select,
    text,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import SQLCoreOperations
from sqlalchemy.sql.selectable import TableValuedAlias, TextualSelect
from sqlmodel import SQLModel

from app.core.db import insert_ignoring_conflict, table_of


class Backend(StrEnum):
    POSTGRESQL = "postgresql"
    SQLITE = "sqlite"


def backend_of(session: AsyncSession) -> Backend:
    """The database the session talks to."""
    return Backend(session.get_bind().dialect.name)


def in_bound(column: SQLCoreOperations[Any], name: str, backend: Backend) -> ColumnElement[bool]:
    """`column IN (…)`, the list of strings bound at execution as `name`.

    PostgreSQL gets one array parameter (`= ANY`): the statement's SQL is the same
    whatever the list's length, so it is neither rendered again at each execution nor
    prepared again for each length. SQLite: an expanding IN.
    """
    if backend == Backend.POSTGRESQL:
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


def json_list_has_any(
    column: SQLCoreOperations[Any], name: str, backend: Backend
) -> ColumnElement[bool]:
    """A JSON list of strings holds any of the strings bound as `name` at execution.

    PostgreSQL: `?|` on JSONB, which a GIN index serves. SQLite: a `json_each` look-up.
    """
    if backend == Backend.POSTGRESQL:
        wanted = bindparam(name, type_=ARRAY(String))
        overlap: ColumnElement[bool] = type_coerce(column, JSONB).has_any(wanted)
        return overlap
    members = func.json_each(column).table_valued("value")
    return exists().where(members.c.value.in_(bindparam(name, expanding=True)))


def json_list_contains(
    column: SQLCoreOperations[Any], value: str, backend: Backend
) -> ColumnElement[bool]:
    """A JSON list of strings holds `value`: `@>` on PostgreSQL (GIN), `json_each` on SQLite."""
    if backend == Backend.POSTGRESQL:
        contains: ColumnElement[bool] = type_coerce(column, JSONB).contains([value])
        return contains
    members = func.json_each(column).table_valued("value")
    return exists().where(members.c.value == value)


def json_object_contains(
    column: SQLCoreOperations[Any], name: str, backend: Backend
) -> ColumnElement[bool]:
    """A JSON object of strings holds every key/value pair of the object bound as `name`.

    PostgreSQL: `@>` on JSONB, which a GIN index serves. SQLite: no pair of the bound
    object is missing from the column's `json_each`.
    """
    if backend == Backend.POSTGRESQL:
        contains: ColumnElement[bool] = type_coerce(column, JSONB).contains(
            bindparam(name, type_=JSONB)
        )
        return contains
    wanted = func.json_each(bindparam(name, type_=JSON)).table_valued("key", "value")
    held = func.json_each(column).table_valued("key", "value")
    found = exists().where(held.c.key == wanted.c.key, held.c.value == wanted.c.value)
    return ~exists().select_from(wanted).where(~found)


def json_object_has_keys(
    column: SQLCoreOperations[Any], name: str, backend: Backend
) -> ColumnElement[bool]:
    """A JSON object has every key of the list of strings bound as `name`.

    PostgreSQL: `?&` on JSONB, which a GIN index serves. SQLite: no bound key is
    missing from the column's `json_each`.
    """
    if backend == Backend.POSTGRESQL:
        has_all: ColumnElement[bool] = type_coerce(column, JSONB).has_all(
            bindparam(name, type_=ARRAY(String))
        )
        return has_all
    wanted = func.json_each(bindparam(name, type_=JSON)).table_valued("value")
    held = func.json_each(column).table_valued("key")
    return ~exists().select_from(wanted).where(~exists().where(held.c.key == wanted.c.value))


def json_list_elements(column: SQLCoreOperations[Any], backend: Backend) -> TableValuedAlias:
    """A JSON list of strings as a table-valued function, one row (`value`) per element."""
    if backend == Backend.POSTGRESQL:
        return func.jsonb_array_elements_text(type_coerce(column, JSONB)).table_valued("value")
    return func.json_each(column).table_valued("value")


def quarter_of(column: SQLCoreOperations[Any], backend: Backend) -> ColumnElement[str]:
    """The UTC calendar quarter of a timestamp as text, `2026-Q1`."""
    if backend == Backend.POSTGRESQL:
        return func.to_char(func.timezone("UTC", column), 'YYYY-"Q"Q')
    # SQLite stores UTC without an offset (core.db.UTCDateTime): strftime reads it as is.
    month = cast(func.strftime("%m", column), Integer)
    return func.printf("%s-Q%d", func.strftime("%Y", column), (month + 2) / 3)


def json_flag(column: SQLCoreOperations[Any], key: str, backend: Backend) -> ColumnElement[bool]:
    """A JSON object's `key` holds JSON `true` (not a string or a number)."""
    if backend == Backend.POSTGRESQL:
        return func.jsonb_extract_path(type_coerce(column, JSONB), key) == type_coerce(True, JSONB)
    return func.json_type(column, f'$."{key}"') == "true"


def unindexed(column: SQLCoreOperations[int]) -> ColumnElement[int]:
    """An integer column as an expression no index serves (`+ 0`), same values, same order.

    Ordering a `LIMIT 1` look-up by an indexed column tempts the planner to walk that
    index in search of a rare match; by this expression it starts from the matches.
    """
    return column + 0


def search_order(
    backend: Backend, *columns: Mapped[Any]
) -> tuple[ColumnElement[Any] | Mapped[Any], ...]:
    """How to order a text search's page: by `columns` (a timestamp, then others) as
    expressions no index serves on PostgreSQL, so the trigram indexes find the matches,
    which are then sorted; empty on SQLite (no trigram index: the index walk is the plan).
    """
    if backend != Backend.POSTGRESQL:
        return ()
    first, *rest = columns
    return (first + literal_column("interval '0'", Interval()), *rest)


async def next_in_counter(session: AsyncSession, counter: type[SQLModel], name: str) -> int | None:
    """The next value of counter row `name`; None on PostgreSQL, where a sequence numbers.

    PostgreSQL: the column's sequence default, so concurrent creations never wait on
    one another (a failed creation leaves a gap, rarely). SQLite has one writer: a
    counter row bumped in the creating transaction, gap-free.
    """
    if backend_of(session) == Backend.POSTGRESQL:
        return None
    table = table_of(counter)
    statement = (
        sqlite_insert(table)
        .values(name=name, value=1)
        .on_conflict_do_update(
            index_elements=["name"], set_={"value": literal_column(f"{table.name}.value") + 1}
        )
        .returning(table.c.value)
    )
    return int((await session.execute(statement)).scalar_one())


@cache
def _insert_locked(table: Table, columns: tuple[str, ...], conflict_on: tuple[str, ...]) -> Any:
    locked = select(
        func.pg_advisory_xact_lock(bindparam("lock")),
        func.set_config("plan_cache_mode", "force_custom_plan", true()),
    ).subquery("locked")
    values: Select[Any] = select(
        *(bindparam(name, type_=table.c[name].type) for name in columns)
    ).select_from(locked)
    return (
        postgresql_insert(table)
        .from_select(list(columns), values)
        .on_conflict_do_nothing(index_elements=list(conflict_on))
        .returning(table.c[conflict_on[0]])
    )


async def insert_once_serialised(
    session: AsyncSession,
    model: type[SQLModel],
    row: dict[str, Any],
    *,
    conflict_on: list[str],
    lock: int,
) -> bool:
    """Insert `row` unless its `conflict_on` key exists, serialised with others of `lock`.

    PostgreSQL, in one round trip: a transaction-scoped advisory lock on `lock`, the
    transaction's later statements planned afresh for their values (`plan_cache_mode`:
    a plan cached while a table was small would scan it once it has grown), then the
    `INSERT … ON CONFLICT DO NOTHING`. SQLite has one writer: the insert alone.
    True when the row was inserted.
    """
    if backend_of(session) != Backend.POSTGRESQL:
        return await insert_ignoring_conflict(session, model, row, conflict_on=conflict_on)
    statement = _insert_locked(table_of(model), tuple(row), tuple(conflict_on))
    return (await session.execute(statement, row | {"lock": lock})).first() is not None


_SNAPSHOT_XMIN = text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


def settled(txid: SQLCoreOperations[Any], backend: Backend) -> list[ColumnElement[bool]]:
    """Only rows whose inserting transaction (`txid`) can no longer be followed by an
    earlier one's commit: older than every transaction still running (PostgreSQL).
    SQLite's writers are serial, so every committed row is settled."""
    if backend == Backend.POSTGRESQL:
        return [txid < _SNAPSHOT_XMIN]
    return []


async def update_each(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: tuple[str, ...],
    where: Mapping[str, Any],
    values: Mapping[str, Any],
) -> set[Any]:
    """For each of `rows`, update the row of `table` whose `keys` columns hold the row's
    values and whose columns match `where`: set `values` and the row's other columns.
    Returns the first key's value of every row updated (one that no longer matches is
    not). PostgreSQL: one statement, the rows bound as one JSON array; SQLite: one
    statement a row. Every row has the same columns."""
    if not rows:
        return set()
    columns = tuple(rows[0])
    if backend_of(session) == Backend.POSTGRESQL:
        statement = _update_from_rows(table, columns, keys, tuple(where), tuple(values))
        bound = {f"w_{n}": v for n, v in where.items()} | {f"v_{n}": v for n, v in values.items()}
        return set((await session.scalars(statement, bound | {"rows": list(rows)})).all())
    updated = set()
    for row in rows:
        one = (
            update(table)
            .where(
                *(table.c[n] == row[n] for n in keys), *(table.c[n] == v for n, v in where.items())
            )
            .values(**values, **{n: row[n] for n in columns if n not in keys})
            .returning(table.c[keys[0]])
        )
        updated |= set((await session.scalars(one)).all())
    return updated


@cache
def _update_from_rows(
    table: Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    where: tuple[str, ...],
    values: tuple[str, ...],
) -> TextualSelect:
    """PostgreSQL: `UPDATE … FROM jsonb_to_recordset(:rows)`, built once per shape."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    record = ", ".join(f"{n} {table.c[n].type.compile(dialect=dialect)}" for n in columns)
    assignments = [f"{n} = :v_{n}" for n in values]
    assignments += [f"{n} = r.{n}" for n in columns if n not in keys]
    matches = [f"t.{n} = r.{n}" for n in keys] + [f"t.{n} = :w_{n}" for n in where]
    statement = text(
        f'UPDATE "{table.name}" AS t SET {", ".join(assignments)} '
        f"FROM jsonb_to_recordset(:rows) AS r({record}) "
        f"WHERE {' AND '.join(matches)} RETURNING t.{keys[0]}"
    )
    parameters = [bindparam("rows", type_=JSONB)]
    parameters += [bindparam(f"w_{n}", type_=table.c[n].type) for n in where]
    parameters += [bindparam(f"v_{n}", type_=table.c[n].type) for n in values]
    return statement.bindparams(*parameters).columns(table.c[keys[0]])
