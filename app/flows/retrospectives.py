"""Writing a retrospective: the first write starts from what the record says."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.actors import Actor
from app.incidents.models import Incident
from app.postmortems import service as postmortem_service
from app.postmortems.prefill import draft_sections
from app.retrospectives import service as retrospective_service
from app.retrospectives.models import Retrospective
from app.retrospectives.schemas import RetrospectiveWrite, Sections


async def write(
    session: AsyncSession,
    incident: Incident,
    body: RetrospectiveWrite,
    *,
    if_match: str | None,
    actor: Actor,
) -> Retrospective:
    current = await retrospective_service.find(session, incident)
    draft = (
        Sections()
        if current is not None
        else draft_sections(await postmortem_service.build(session, incident))
    )
    return await retrospective_service.write(
        session, incident, current, body, draft=draft, if_match=if_match, actor=actor
    )
