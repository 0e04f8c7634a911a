"""Action items that Muster follows up by itself: the overdue reminder."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.action_items import service as action_service
from app.core.timers import Timer


async def on_overdue(session: AsyncSession, timer: Timer) -> None:
    """An item's due date passed: announced once, if it is still open and due then."""
    await action_service.announce_overdue(session, timer.subject_id, timer.key)
