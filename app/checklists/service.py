"""The initial-response checklist of each incident.

Its timeline entries are written by `app.flows.checklists`, which calls this module.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.checklists.models import ChecklistItem
from app.checklists.schemas import ChecklistItemUpdate
from app.checklists.template import ChecklistTemplate
from app.core.actors import Actor
from app.core.clock import utcnow
from app.core.db import add_row, table_of
from app.core.errors import NotFound
from app.core.pagination import PageParams, Rows, paginate
from app.incidents.models import Incident

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
    by: Actor,
) -> ChecklistItem:
    item = await _get(session, incident, key)
    if item is None:
        raise ChecklistItemNotFound(f"{incident.reference} has no checklist item `{key}`")
    now = utcnow()
    if "note" in changes.model_fields_set:
        item.note = changes.note
    if changes.done is not None and changes.done != item.done:
        item.done = changes.done
        ticked = (by.handle, now, by.via.stored()) if changes.done else (None, None, None)
        item.done_by, item.done_at, item.done_via = ticked
    item.updated_at = now
    await session.flush()
    return item


def describe(item: ChecklistItem) -> str:
    """The item's state as its timeline entry says it."""
    summary = f"Checklist: {item.label} — {'done' if item.done else 'not done'}"
    return f"{summary} ({item.note})" if item.note else summary


async def tick(
    session: AsyncSession, incident: Incident, key: str, note: str
) -> ChecklistItem | None:
    """Tick `key` on Muster's own account (e.g. when a commander is named), if still open.

    The item ticked now, or None when there is none or it was done already.
    """
    item = await _get(session, incident, key)
    if item is None or item.done:
        return None
    item.done, item.done_by, item.done_at, item.note = True, AUTOMATIC, utcnow(), item.note or note
    item.updated_at = item.done_at
    await session.flush()
    return item
