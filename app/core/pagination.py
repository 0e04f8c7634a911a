"""Keyset (cursor) pagination, newest first, for every collection endpoint.

A cursor encodes the sort key of the last row served, so pages stay correct while
rows are being inserted: new rows sort before the cursor and never shift a page.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar, cast

import orjson
from fastapi import Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Integer, Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped
from sqlmodel.sql.expression import SelectOfScalar

from app.core.errors import FieldProblem, InvalidInput

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_BIGINT = 2**63  # a cursor's integers must fit a BIGINT column


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


async def page_params(  # async: FastAPI runs a plain `def` dependency in a thread
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


@dataclass
class Rows(Generic[U]):
    """One page of table rows, before they are turned into response models."""

    items: Sequence[U]
    next_cursor: str | None

    def to_page(self, convert: Callable[[U], T]) -> Page[T]:
        return Page[T](items=[convert(row) for row in self.items], next_cursor=self.next_cursor)

    def to_response(self, convert: Callable[[U], dict[str, Any]]) -> Response:
        """The page as JSON straight from plain rows, for hot read paths.

        `convert` gives each row as the dict its response model would dump; orjson
        writes datetimes and UUIDs exactly as pydantic does (UTC as `Z`). Tests hold
        the two paths to the same output.
        """
        body = {"items": [convert(row) for row in self.items], "next_cursor": self.next_cursor}
        # default=str: asyncpg returns its own UUID type, which orjson does not know
        content = orjson.dumps(body, default=str, option=orjson.OPT_UTC_Z)
        return Response(content, media_type="application/json")


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor for the keyset `values` (datetimes, UUIDs, ints, strings)."""
    plain = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    """The keyset values of a cursor from `encode_cursor`, of the given Python types;
    a 422 problem for anything else."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError("wrong shape")
        values: list[Any] = []
        for kind, value in zip(kinds, raw, strict=True):
            if kind is datetime:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:  # this server writes UTC times with their offset
                    raise ValueError("naive time")
                values.append(moment.astimezone(UTC))
            elif kind is uuid.UUID:
                values.append(uuid.UUID(value))
            elif (kind is str and isinstance(value, str)) or (
                kind is int and type(value) is int and -_BIGINT <= value < _BIGINT
            ):
                values.append(value)
            else:
                raise ValueError("wrong type")
        return values
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "The cursor is not one this server issued",
            errors=[FieldProblem(field="query.cursor", message="invalid cursor", type="cursor")],
        ) from None


class Keyset(Generic[U]):
    """Pages of `statement` ordered by `columns` (unique together), after a cursor.

    The statements of the first page and of the pages after a cursor are derived once,
    here, with the page size and the cursor's values bound at execution: a `Keyset`
    made at import is neither rebuilt nor keyed again for SQLAlchemy's statement cache
    on each request. `plain_rows`: the statement selects columns, not an entity; its
    rows come back as dicts, run on the session's connection without the ORM.
    `sorted_by`: what to order by when it is not the columns themselves, expressions
    of the same values in the same order, to keep the planner off an index.
    """

    def __init__(
        self,
        statement: Select[tuple[U]] | SelectOfScalar[U],
        *columns: Mapped[Any],
        descending: bool = True,
        plain_rows: bool = False,
        sorted_by: Sequence[ColumnElement[Any] | Mapped[Any]] = (),
    ) -> None:
        self.keys = [cast(InstrumentedAttribute[Any], column) for column in columns]
        self.kinds = [key.type.python_type for key in self.keys]
        self.plain_rows = plain_rows
        row_key = tuple_(*self.keys)
        cursor = tuple_(*(bindparam(f"after_{i}", type_=k.type) for i, k in enumerate(self.keys)))
        order = [k.desc() if descending else k.asc() for k in (sorted_by or self.keys)]
        size = bindparam("page_size", type_=Integer())
        after = statement.where(row_key < cursor if descending else row_key > cursor)
        self.first, self.after = (s.order_by(*order).limit(size) for s in (statement, after))

    async def page(
        self, session: AsyncSession, params: PageParams, binds: dict[str, Any] | None = None
    ) -> Rows[U]:
        """One page; `binds` are the values of the statement's own parameters."""
        bound = {**(binds or {}), "page_size": params.limit + 1}
        statement = self.first
        if params.cursor is not None:
            statement = self.after
            after = decode_cursor(params.cursor, self.kinds)
            bound.update({f"after_{i}": value for i, value in enumerate(after)})
        rows: Sequence[Any]
        if self.plain_rows:
            result = await (await session.connection()).execute(statement, bound)
            names = list(result.keys())
            rows = [dict(zip(names, row, strict=True)) for row in result.all()]
        else:
            rows = (await session.execute(statement, bound)).scalars().all()
        if len(rows) <= params.limit:
            return Rows(rows, None)
        last = rows[params.limit - 1]
        values = [last[k.key] if self.plain_rows else getattr(last, k.key) for k in self.keys]
        return Rows(rows[: params.limit], encode_cursor(values))


async def paginate(
    session: AsyncSession,
    statement: Select[tuple[U]] | SelectOfScalar[U],
    params: PageParams,
    *columns: Mapped[Any],
    descending: bool = True,
    plain_rows: bool = False,
) -> Rows[U]:
    """A page of a statement built for this request (see `Keyset`)."""
    pages = Keyset(statement, *columns, descending=descending, plain_rows=plain_rows)
    return await pages.page(session, params)
