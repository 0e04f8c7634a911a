"""Finding an incident by how people name it: its UUID, its reference (`INC-42`) or number.

Below every domain service: the timeline and the HTTP dependencies look incidents up
here without depending on the incidents service.
"""

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.core.errors import NotFound
from app.incidents.models import ID_KEYED, KEYED, Incident

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
