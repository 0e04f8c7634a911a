"""Finding an incident by how people name it: its UUID, its reference (`INC-42`) or number.

Below every domain service: the timeline and the HTTP dependencies look incidents up
here without depending on the incidents service.
"""

import re
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from app.core.db import table_of
from app.core.errors import NotFound
from app.incidents.models import ID_KEYED, KEYED, Incident

M = TypeVar("M", bound=SQLModel)
_REFERENCE = re.compile(r"^(?:INC-)?(\d{1,9})$", re.IGNORECASE)


class IncidentNotFound(NotFound):
    pass


def key_of(ident: str) -> tuple[str, int | uuid.UUID]:
    """What `ident` names an incident by: its UUID, or its reference (`INC-42`) or number."""
    if match := _REFERENCE.match(ident):
        return "number", int(match.group(1))
    try:
        return "id", uuid.UUID(ident)
    except ValueError:
        raise IncidentNotFound(f"No incident {ident!r}: use its id or reference (INC-42)") from None


# Built once per key, the value bound at execution: incidents are looked up on almost
# every request.
_GET = {key: select(Incident).where(where) for key, where in KEYED.items()}
_GET_LOCKED = {key: statement.with_for_update() for key, statement in _GET.items()}


async def get_incident(session: AsyncSession, ident: str, *, for_update: bool = False) -> Incident:
    """By UUID, by reference (`INC-42`) or by number (`42`)."""
    key, value = key_of(ident)
    incident = await session.scalar((_GET_LOCKED if for_update else _GET)[key], {"key": value})
    if incident is None:
        raise IncidentNotFound(f"No incident {ident}")
    return incident


async def get_incident_id(session: AsyncSession, ident: str) -> uuid.UUID:
    """Only the id of the incident `ident` names, for reads that need nothing more."""
    key, value = key_of(ident)
    connection = await session.connection()
    found = await connection.scalar(ID_KEYED[key], {"key": value})
    if found is None:
        raise IncidentNotFound(f"No incident {ident}")
    return found


async def child_of(
    session: AsyncSession,
    model: type[M],
    incident: Incident,
    *where: ColumnElement[bool],
    order_by: Sequence[ColumnElement[Any]] = (),
    missing: type[NotFound],
    what: str,
) -> M:
    """The `model` row of `incident` (by its `incident_id`) that `where` picks, the first
    by `order_by` when several may; else `missing` (404), "No {what} on INC-42".

    A row of another incident is as missing as one that does not exist.
    """
    statement = select(model).where(table_of(model).c.incident_id == incident.id, *where)
    if order_by:
        statement = statement.order_by(*order_by).limit(1)
    found = await session.scalar(statement)
    if found is None:
        raise missing(f"No {what} on {incident.reference}")
    return found
