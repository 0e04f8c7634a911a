"""The incident timeline: what people record and what Muster records for them."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.clock import utcnow
from app.core.db import add_row, table_of
from app.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from app.core.events import emit
from app.core.pagination import Keyset, PageParams, Rows
from app.incidents import lookup
from app.incidents.lookup import child_of
from app.incidents.models import ID_KEYED, Incident
from app.incidents.schemas import IncidentRef
from app.timeline.events import TimelineEventAdded
from app.timeline.models import HUMAN_KINDS, EntryKind, TimelineEntry
from app.timeline.schemas import ENTRY_COLUMNS, EntryCreate, EntryOut, EntryUpdate

CLOCK_SKEW = timedelta(minutes=2)
_ENTRIES = table_of(TimelineEntry)
# Table columns, not ORM attributes, as for the incident list (see `list_incidents`).
_LIST = select(*(_ENTRIES.c[name] for name in ENTRY_COLUMNS))
_ORDER = (col(TimelineEntry.occurred_at), col(TimelineEntry.seq))
_OF_KINDS = col(TimelineEntry.kind).in_(bindparam("kinds", expanding=True))
# By how the incident is named (`lookup.key_of`), with or without kinds: its
# id is looked up inside the page's statement, one round trip for both.
_PAGES = {
    (key, of_kinds): Keyset(
        _LIST.where(
            col(TimelineEntry.incident_id) == id_of.scalar_subquery(),
            *([_OF_KINDS] if of_kinds else []),
        ),
        *_ORDER,
        descending=False,
        plain_rows=True,
    )
    for key, id_of in ID_KEYED.items()
    for of_kinds in (False, True)
}


class EntryNotFound(NotFound):
    pass


class GeneratedEntryReadOnly(Conflict):
    code, title = "generated-entry-read-only", "Generated entries are read-only"


def record(
    session: AsyncSession,
    incident: Incident,
    kind: EntryKind,
    summary: str,
    *,
    author: str | None = None,
    data: dict[str, Any] | None = None,
    body: str | None = None,
    occurred_at: datetime | None = None,
) -> EntryOut:
    """Add an entry and its `timeline.event_added` event in the current transaction.

    Both are queued rows (`add_row`): written together with the rest of the request,
    batched, at the next flush or at commit.
    """
    now = utcnow()
    entry = {
        "id": uuid.uuid4(),
        "incident_id": incident.id,
        "kind": kind,
        "summary": summary[:500],
        "body": body,
        "author": author,
        "data": data or {},
        "occurred_at": occurred_at or now,
        "created_at": now,
        "updated_at": None,
    }
    add_row(session, _ENTRIES, entry)
    out = EntryOut.model_validate(entry | {"generated": kind not in HUMAN_KINDS})
    emit(session, TimelineEventAdded(incident=IncidentRef.of(incident), entry=out))
    return out


def _check_not_future(occurred_at: datetime | None) -> None:
    if occurred_at is not None and occurred_at > utcnow() + CLOCK_SKEW:
        raise InvalidInput(
            "occurred_at is in the future",
            errors=[
                FieldProblem(
                    field="body.occurred_at",
                    message="must not be more than 2 minutes in the future",
                    type="future_time",
                )
            ],
        )


def add_entry(
    session: AsyncSession, incident: Incident, entry: EntryCreate, *, author: str
) -> EntryOut:
    _check_not_future(entry.occurred_at)
    return record(
        session,
        incident,
        EntryKind(entry.kind),
        entry.summary,
        author=author,
        data=entry.data,
        body=entry.body,
        occurred_at=entry.occurred_at,
    )


async def list_entries(
    session: AsyncSession,
    incident_ident: str,
    page: PageParams,
    *,
    kinds: list[EntryKind] | None,
) -> Rows[dict[str, Any]]:
    """Plain rows (no ORM objects): timelines are read far more often than written.

    The incident is looked up by the page's own statement; only an empty page asks
    whether it exists (every incident has at least its opening entry).
    """
    key, value = lookup.key_of(incident_ident)
    rows = await _PAGES[key, bool(kinds)].page(session, page, {"key": value, "kinds": kinds})
    if not rows.items:
        await lookup.get_incident_id(session, incident_ident)  # 404 if none
    return rows


async def get_entry(
    session: AsyncSession, incident: Incident, entry_id: uuid.UUID
) -> TimelineEntry:
    return await child_of(
        session,
        TimelineEntry,
        incident,
        col(TimelineEntry.id) == entry_id,
        missing=EntryNotFound,
        what=f"timeline entry {entry_id}",
    )


def _writable(entry: TimelineEntry) -> None:
    if entry.generated:
        raise GeneratedEntryReadOnly(
            f"`{entry.kind}` entries are written by Muster and cannot be changed or deleted"
        )


async def update_entry(
    session: AsyncSession, incident: Incident, entry_id: uuid.UUID, changes: EntryUpdate
) -> TimelineEntry:
    entry = await get_entry(session, incident, entry_id)
    _writable(entry)
    _check_not_future(changes.occurred_at)
    for field in changes.model_fields_set:
        value = getattr(changes, field)
        setattr(entry, field, EntryKind(value) if field == "kind" else value)
    entry.updated_at = utcnow()
    await session.flush()
    return entry


async def delete_entry(session: AsyncSession, incident: Incident, entry_id: uuid.UUID) -> None:
    entry = await get_entry(session, incident, entry_id)
    _writable(entry)
    await session.delete(entry)
    await session.flush()
