"""The initial-response checklist of each incident."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.checklists.models import ChecklistItem
from app.checklists.schemas import ChecklistItemUpdate
from app.checklists.template import ChecklistTemplate
from app.core.clock import utcnow
from app.core.db import add_row, table_of
from app.core.errors import NotFound
from app.core.pagination import PageParams, Rows, paginate
from app.incidents.models import Incident
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

AUTOMATIC = "muster"
_ITEMS = table_of(ChecklistItem)


class ChecklistItemNotFound(NotFound):
    pass


def create_checklist(
    session: AsyncSession, incident: Incident, template: ChecklistTemplate
) -> None:
    for n, item in enumerate(template.items):
        add_row(
            session,
            _ITEMS,
            {
                "id": uuid.uuid4(),
                "incident_id": incident.id,
                "key": item.key,
                "label": item.label,
                "position": n,
                "done": False,
                "note": None,
                "done_by": None,
                "done_at": None,
                "updated_at": None,
            },
        )


async def list_items(
    session: AsyncSession, incident: Incident, page: PageParams
) -> Rows[ChecklistItem]:
    statement = select(ChecklistItem).where(col(ChecklistItem.incident_id) == incident.id)
    return await paginate(session, statement, page, col(ChecklistItem.position), descending=False)


async def _get(session: AsyncSession, incident: Incident, key: str) -> ChecklistItem | None:
    return await session.scalar(
        select(ChecklistItem).where(
            col(ChecklistItem.incident_id) == incident.id, col(ChecklistItem.key) == key
        )
    )


async def update_item(
    session: AsyncSession,
    incident: Incident,
    key: str,
    changes: ChecklistItemUpdate,
    *,
    principal_name: str,
) -> ChecklistItem:
    item = await _get(session, incident, key)
    if item is None:
        raise ChecklistItemNotFound(f"{incident.reference} has no checklist item `{key}`")
    by = changes.by or principal_name
    now = utcnow()
    if "note" in changes.model_fields_set:
        item.note = changes.note
    if changes.done is not None and changes.done != item.done:
        item.done = changes.done
        item.done_by, item.done_at = (by, now) if changes.done else (None, None)
    item.updated_at = now
    await session.flush()
    state = "done" if item.done else "not done"
    summary = f"Checklist: {item.label} — {state}"
    if item.note:
        summary += f" ({item.note})"
    timeline_service.record(
        session,
        incident,
        EntryKind.CHECKLIST,
        summary,
        author=by,
        data={"key": item.key, "done": item.done, "note": item.note},
    )
    return item


async def tick(session: AsyncSession, incident: Incident, key: str, note: str) -> None:
    """Tick `key` on Muster's own account (e.g. when a commander is named), if still open."""
    item = await _get(session, incident, key)
    if item is None or item.done:
        return
    item.done, item.done_by, item.done_at, item.note = True, AUTOMATIC, utcnow(), item.note or note
    item.updated_at = item.done_at
    await session.flush()
    timeline_service.record(
        session,
        incident,
        EntryKind.CHECKLIST,
        f"Checklist: {item.label} — done ({note})",
        author=AUTOMATIC,
        data={"key": item.key, "done": True, "note": item.note},
    )
