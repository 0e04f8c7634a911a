"""People on an incident, and what their roles bring with them in other domains.

A commander becomes the incident's commander (any other is demoted to observer) and
ticks `commander_assigned`; the first SRE ticks `sre_joined`, feeds the
SRE-engagement histogram (after commit) and stops escalation for good.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.actors import Via
from app.engagement import service as engagement_service
from app.flows import checklists as checklist_flows
from app.incidents import service as incident_service
from app.incidents.models import Incident
from app.participants import service as participant_service
from app.participants.models import Participant, Role
from app.participants.schemas import ParticipantCreate
from app.reports import service as report_service


async def _after_role_given(
    session: AsyncSession, incident: Incident, participant: Participant, *, actor: str
) -> None:
    if participant.role == Role.SRE:
        await checklist_flows.tick(session, incident, "sre_joined", f"{participant.handle} joined")
        await report_service.note_sre_role(session, incident)
        await engagement_service.sre_engaged(session, incident)
    if participant.role != Role.COMMANDER:
        return
    for former in await participant_service.other_commanders(session, incident, participant):
        await participant_service.set_role(session, incident, former, Role.OBSERVER, actor=actor)
    await incident_service.set_commander(session, incident, participant.handle)
    await checklist_flows.tick(
        session, incident, "commander_assigned", f"{participant.handle} is commander"
    )


async def join(
    session: AsyncSession,
    incident: Incident,
    joining: ParticipantCreate,
    *,
    actor: str,
    via: Via | None = None,
) -> Participant:
    """Someone joins the incident in a role (put there by `actor`, with `via`)."""
    participant = await participant_service.join(session, incident, joining, actor=actor, via=via)
    await _after_role_given(session, incident, participant, actor=actor)
    return participant


async def change_role(
    session: AsyncSession, incident: Incident, participant: Participant, role: Role, *, actor: str
) -> Participant:
    """A participant takes another role; a commander who steps down leaves the seat empty."""
    if not await participant_service.change_role(session, incident, participant, role, actor=actor):
        return participant
    if role != Role.COMMANDER and incident.commander == participant.handle:
        await incident_service.set_commander(session, incident, None)
    await _after_role_given(session, incident, participant, actor=actor)
    return participant


async def leave(
    session: AsyncSession, incident: Incident, participant: Participant, *, actor: str
) -> Participant:
    """A participant leaves; a leaving commander leaves the seat empty."""
    left = await participant_service.leave(session, incident, participant, actor=actor)
    if left and incident.commander == participant.handle:
        await incident_service.set_commander(session, incident, None)
    return participant


async def assign_commander(
    session: AsyncSession, incident: Incident, handle: str, *, actor: str, via: Via | None = None
) -> Participant:
    """Make `handle` the commander, joining them first when they are not on the incident."""
    participant = await participant_service.active_participant(session, incident, handle)
    if participant is None:
        joining = ParticipantCreate(handle=handle, role=Role.COMMANDER)
        return await join(session, incident, joining, actor=actor, via=via)
    return await change_role(session, incident, participant, Role.COMMANDER, actor=actor)
