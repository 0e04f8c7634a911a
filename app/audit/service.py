"""The audit trail: entries queued in a request's transaction, read back by an admin."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.core.audit import AuditEntry
from app.core.db import add_row, table_of
from app.core.handles import fold
from app.core.pagination import PageParams, Rows, paginate

_EVENTS = table_of(AuditEvent)


def record(session: AsyncSession, entry: AuditEntry) -> None:
    """Queue `entry`: it is written with the rest of the transaction, or not at all."""
    add_row(session, _EVENTS, entry.row())


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    key: str | None = None  # an API key's id or name
    operation: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_events(
    session: AsyncSession, page: PageParams, filters: AuditFilters
) -> Rows[AuditEvent]:
    """Audit events, newest first, that match every filter given."""
    statement = select(AuditEvent)
    if filters.actor is not None:  # handles are stored folded; service names as named
        statement = statement.where(col(AuditEvent.actor).in_({filters.actor, fold(filters.actor)}))
    if filters.key is not None:
        try:
            statement = statement.where(col(AuditEvent.key_id) == uuid.UUID(filters.key))
        except ValueError:
            statement = statement.where(col(AuditEvent.key_name) == filters.key)
    if filters.operation is not None:
        statement = statement.where(col(AuditEvent.operation) == filters.operation)
    if filters.target is not None:
        statement = statement.where(col(AuditEvent.target) == filters.target)
    if filters.since is not None:
        statement = statement.where(col(AuditEvent.at) >= filters.since)
    if filters.until is not None:
        statement = statement.where(col(AuditEvent.at) < filters.until)
    return await paginate(session, statement, page, col(AuditEvent.seq))
