"""The incident timeline: what people record and what Muster records for them."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.actors import Actor, Via
from app.core.clock import utcnow
from app.core.db import add_row, table_of
from app.core.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound
from app.core.events import emit
from app.core.pagination import Keyset, PageParams, Rows
from app.incidents import lookup
from app.incidents.lookup import child_of
from app.incidents.models import ID_KEYED, Incident
from app.incidents.schemas import IncidentRef
from app.timeline.events import TimelineEventAdded, TimelineEventDeleted, TimelineEventUpdated
from app.timeline.models import HUMAN_KINDS, EntryKind, TimelineEntry, TimelineRevision
from app.timeline.schemas import (
    ENTRY_COLUMNS,
    EntryCreate,
    EntryOut,
    EntryUpdate,
    RevisionOut,
)

CLOCK_SKEW = timedelta(minutes=2)
_ENTRIES = table_of(TimelineEntry)
# Table columns, not ORM attributes, as for the incident list (see `list_incidents`).
_LIST = select(*(_ENTRIES.c[name] for name in ENTRY_COLUMNS))
_ORDER = (col(TimelineEntry.occurred_at), col(TimelineEntry.seq))
_OF_KINDS = col(TimelineEntry.kind).in_(bindparam("kinds", expanding=True))
_NOT_DELETED = col(TimelineEntry.deleted_at).is_(None)
# By how the incident is named (`lookup.key_of`), with or without kinds and deleted
# entries: its id is looked up inside the page's statement, one round trip for both.
_PAGES = {
    (key, of_kinds, with_deleted): Keyset(
        _LIST.where(
            col(TimelineEntry.incident_id) == id_of.scalar_subquery(),
            *([_OF_KINDS] if of_kinds else []),
            *([] if with_deleted else [_NOT_DELETED]),
        ),
        *_ORDER,
        descending=False,
        plain_rows=True,
    )
    for key, id_of in ID_KEYED.items()
    for of_kinds in (False, True)
    for with_deleted in (False, True)
}


class EntryNotFound(NotFound):
    pass


class GeneratedEntryReadOnly(Conflict):
    code, title = "generated-entry-read-only", "Generated entries are read-only"


class NotTheAuthor(Forbidden):
    code, title = "not-author", "Only the author or an admin may change an entry"


def record(
    session: AsyncSession,
    incident: Incident,
    kind: EntryKind,
    summary: str,
    *,
    author: str | None = None,
    via: Via | None = None,
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
        "via": via.stored() if via else None,
        "data": data or {},
        "occurred_at": occurred_at or now,
        "created_at": now,
        "updated_at": None,
        "deleted_at": None,
        "deleted_by": None,
        "deleted_via": None,
    }
    add_row(session, _ENTRIES, entry)
    out = EntryOut.model_validate(entry | {"generated": kind not in HUMAN_KINDS})
    emit(session, TimelineEventAdded(incident=IncidentRef.of(incident), entry=out))
    return out


async def copy_entries(session: AsyncSession, merged: Incident, into: Incident) -> int:
    """Copy the timeline of `merged` onto `into`'s, at the entries' original times.

    Each copy names where it came from (`data.merged_from`, kept from an earlier merge),
    is prefixed with the merged incident's reference and keeps its author and `via`;
    an edited entry is copied as it reads now, a deleted one not at all. The originals
    stay: the merged incident's own timeline is unchanged. Copies announce no event of
    their own; the merge does.
    """
    await session.flush()  # entries queued in this transaction are copied too
    rows = await session.execute(
        _LIST.where(col(TimelineEntry.incident_id) == merged.id, _NOT_DELETED).order_by(*_ORDER)
    )
    now, copied = utcnow(), 0
    for row in rows.mappings():
        origin = {
            "incident": str(merged.id),
            "reference": merged.reference,
            "entry": str(row["id"]),
        }
        add_row(
            session,
            _ENTRIES,
            {
                "id": uuid.uuid4(),
                "incident_id": into.id,
                "kind": row["kind"],
                "summary": f"[{merged.reference}] {row['summary']}"[:500],
                "body": row["body"],
                "author": row["author"],
                "via": row["via"],
                "data": {"merged_from": origin} | row["data"],
                "occurred_at": row["occurred_at"],
                "created_at": now,
                "updated_at": None,
                "deleted_at": None,
                "deleted_by": None,
                "deleted_via": None,
            },
        )
        copied += 1
    return copied


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
    session: AsyncSession, incident: Incident, entry: EntryCreate, *, author: Actor
) -> EntryOut:
    _check_not_future(entry.occurred_at)
    return record(
        session,
        incident,
        EntryKind(entry.kind),
        entry.summary,
        author=author.handle,
        via=author.via,
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
    include_deleted: bool = False,
) -> Rows[dict[str, Any]]:
    """Plain rows (no ORM objects): timelines are read far more often than written.

    The incident is looked up by the page's own statement; only an empty page asks
    whether it exists (every incident has at least its opening entry). Deleted
    entries are left out unless `include_deleted`.
    """
    key, value = lookup.key_of(incident_ident)
    pages = _PAGES[key, bool(kinds), include_deleted]
    rows = await pages.page(session, page, {"key": value, "kinds": kinds})
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


async def _writable_entry(
    session: AsyncSession, incident: Incident, entry_id: uuid.UUID, actor: Actor, *, admin: bool
) -> TimelineEntry:
    """The entry, when `actor` may change it: one people wrote, not deleted, theirs
    (or the caller is an admin)."""
    entry = await get_entry(session, incident, entry_id)
    if entry.deleted_at is not None:
        raise EntryNotFound(f"Timeline entry {entry_id} was deleted")
    if entry.generated:
        raise GeneratedEntryReadOnly(
            f"`{entry.kind}` entries are written by Muster and cannot be changed or deleted"
        )
    if not (admin or actor.is_same_person(entry.author)):
        raise NotTheAuthor(
            f"{entry.author} wrote this entry; only they or an admin may change it "
            f"(this request acts as {actor.handle})"
        )
    return entry


def _version(
    entry: TimelineEntry, number: int, *, by: str | None, via: dict[str, Any] | None
) -> TimelineRevision:
    return TimelineRevision(
        entry_id=entry.id,
        number=number,
        kind=entry.kind,
        summary=entry.summary,
        body=entry.body,
        data=entry.data,
        occurred_at=entry.occurred_at,
        written_at=entry.updated_at or entry.created_at,
        written_by=by,
        via=via,
    )


async def update_entry(
    session: AsyncSession,
    incident: Incident,
    entry_id: uuid.UUID,
    changes: EntryUpdate,
    *,
    actor: Actor,
    admin: bool,
) -> TimelineEntry:
    """Edit an entry; its versions are kept (the first edit keeps the original too).

    Callers hold the incident's row lock, so versions are numbered one at a time.
    """
    entry = await _writable_entry(session, incident, entry_id, actor, admin=admin)
    _check_not_future(changes.occurred_at)
    versions = await session.scalar(
        select(func.count()).where(col(TimelineRevision.entry_id) == entry.id)
    )
    if not versions:
        session.add(_version(entry, 1, by=entry.author, via=entry.via))
        versions = 1
    for field in changes.model_fields_set:
        value = getattr(changes, field)
        setattr(entry, field, EntryKind(value) if field == "kind" else value)
    entry.updated_at = utcnow()
    session.add(_version(entry, versions + 1, by=actor.handle, via=actor.via.stored()))
    await session.flush()
    emit(
        session,
        TimelineEventUpdated(
            incident=IncidentRef.of(incident), entry=EntryOut.of(entry), revision=versions + 1
        ),
    )
    return entry


async def delete_entry(
    session: AsyncSession, incident: Incident, entry_id: uuid.UUID, *, actor: Actor, admin: bool
) -> None:
    """Delete an entry: it becomes a tombstone, hidden from the timeline, kept."""
    entry = await _writable_entry(session, incident, entry_id, actor, admin=admin)
    entry.deleted_at, entry.deleted_by = utcnow(), actor.handle
    entry.deleted_via = actor.via.stored()
    await session.flush()
    emit(session, TimelineEventDeleted(incident=IncidentRef.of(incident), entry=EntryOut.of(entry)))


async def revisions_of(
    session: AsyncSession, incident: Incident, entry_id: uuid.UUID
) -> list[RevisionOut]:
    """An entry's versions, oldest first; an entry never edited has one, itself."""
    entry = await get_entry(session, incident, entry_id)
    stored = await session.scalars(
        select(TimelineRevision)
        .where(col(TimelineRevision.entry_id) == entry.id)
        .order_by(col(TimelineRevision.number))
    )
    versions = list(stored) or [_version(entry, 1, by=entry.author, via=entry.via)]
    return [RevisionOut.model_validate(version) for version in versions]
