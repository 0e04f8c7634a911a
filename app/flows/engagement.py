"""Escalation: started when an incident opens (or its severity is raised into the
policy), fired level by level by timers, stopped when an SRE joins or it is mitigated."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.timers import Timer
from app.engagement import service as engagement_service
from app.incidents.models import Incident


async def on_level_due(session: AsyncSession, timer: Timer) -> None:
    """The `escalation` timer of one level is due (the incident is locked meanwhile)."""
    incident = await session.get(Incident, timer.subject_id, with_for_update=True)
    if incident is not None:  # deleted meanwhile: nothing to escalate
        await engagement_service.fire_due(session, incident, int(timer.payload["level"]))
