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
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, cast

import orjson
from fastapi import Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped
from sqlmodel.sql.expression import SelectOfScalar

from app.core.errors import FieldProblem, InvalidInput

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


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


def _encode(values: list[Any]) -> str:
    plain = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, keys: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        values: list[Any] = []
        for key, value in zip(keys, raw, strict=True):
            kind = key.type.python_type
            if kind is datetime:
                values.append(datetime.fromisoformat(value))
            elif kind is uuid.UUID:
                values.append(uuid.UUID(value))
            elif kind in (int, str) and isinstance(value, kind):
                values.append(value)
            else:
                raise ValueError("wrong type")
        return values
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput(
            "The cursor is not one this server issued",
            errors=[FieldProblem(field="query.cursor", message="invalid cursor", type="cursor")],
        ) from None


async def paginate(
    session: AsyncSession,
    statement: Select[tuple[U]] | SelectOfScalar[U],
    params: PageParams,
    *columns: Mapped[Any],
    descending: bool = True,
    plain_rows: bool = False,
) -> Rows[U]:
    """Run `statement` ordered by `columns` (unique together), one page after `params.cursor`.

    `plain_rows`: the statement selects columns, not an entity; return its rows as
    dicts, run on the session's connection without the ORM (hot read paths).
    """
    keys = [cast(InstrumentedAttribute[Any], column) for column in columns]
    if params.cursor is not None:
        after = _decode(params.cursor, keys)
        row_key = tuple_(*keys)
        bound = tuple_(*(literal(v, type_=k.type) for k, v in zip(keys, after, strict=True)))
        statement = statement.where(row_key < bound if descending else row_key > bound)
    order = [k.desc() if descending else k.asc() for k in keys]
    statement = statement.order_by(*order).limit(params.limit + 1)
    rows: Sequence[Any]
    if plain_rows:
        result = await (await session.connection()).execute(statement)
        names = list(result.keys())
        rows = [dict(zip(names, row, strict=True)) for row in result.all()]
    else:
        rows = (await session.execute(statement)).scalars().all()
    if len(rows) <= params.limit:
        return Rows(rows, None)
    last = rows[params.limit - 1]
    values = [last[k.key] if plain_rows else getattr(last, k.key) for k in keys]
    return Rows(rows[: params.limit], _encode(values))
