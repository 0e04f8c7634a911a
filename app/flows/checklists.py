"""Checklist changes and the timeline entries that record them."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.checklists import service as checklist_service
from app.checklists.models import ChecklistItem
from app.checklists.schemas import ChecklistItemUpdate
from app.core.actors import Actor
from app.incidents.models import Incident
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind


def _record(
    session: AsyncSession, incident: Incident, item: ChecklistItem, summary: str, *, author: str
) -> None:
    timeline_service.record(
        session,
        incident,
        EntryKind.CHECKLIST,
        summary,
        author=author,
        data={"key": item.key, "done": item.done, "note": item.note},
    )


async def update_item(
    session: AsyncSession,
    incident: Incident,
    key: str,
    changes: ChecklistItemUpdate,
    *,
    by: Actor,
) -> ChecklistItem:
    """Someone (`by`) ticks, unticks or annotates an item."""
    item = await checklist_service.update_item(session, incident, key, changes, by=by)
    _record(session, incident, item, checklist_service.describe(item), author=by.handle)
    return item


async def tick(session: AsyncSession, incident: Incident, key: str, note: str) -> None:
    """Muster ticks an item because something happened elsewhere (a commander was named)."""
    item = await checklist_service.tick(session, incident, key, note)
    if item is not None:
        summary = f"Checklist: {item.label} — done ({note})"
        _record(session, incident, item, summary, author=checklist_service.AUTOMATIC)
