"""Merging one incident into another: one outage, several incidents, one survivor.

The merged incident's alerts move to the survivor (and its Alertmanager group follows,
so the group's next notification lands there), its people join the survivor, its
timeline is copied there at the entries' original times, and its causing deploy is
carried over when the survivor names none. It ends `merged`, naming the survivor.
Both rows are locked first, in id order (`incident_service.lock_pair`): concurrent
merges of the same pair queue, and the second sees what the first did.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import service as alert_service
from app.core.actors import Via
from app.flows import participants as participant_flows
from app.incidents import service as incident_service
from app.incidents.models import Incident
from app.incidents.schemas import IncidentOut, IncidentUpdate, MergeMoved, MergeOut
from app.participants import service as participant_service
from app.participants.models import Role
from app.participants.schemas import ParticipantCreate
from app.timeline import service as timeline_service


async def _join_people(
    session: AsyncSession, merged: Incident, into: Incident, *, actor: str, via: Via | None
) -> int:
    """Everyone on `merged` joins `into` in their role, unless already there; its
    commander joins as an observer when `into` has a commander of its own."""
    here = {p.handle for p in await participant_service.active_participants(session, into)}
    joined = 0
    for person in await participant_service.active_participants(session, merged):
        if person.handle in here:
            continue
        role = person.role
        if role == Role.COMMANDER and into.commander is not None:
            role = Role.OBSERVER
        joining = ParticipantCreate(
            handle=person.handle, name=person.name, email=person.email, team=person.team, role=role
        )
        await participant_flows.join(session, into, joining, actor=actor, via=via)
        joined += 1
    return joined


async def merge(
    session: AsyncSession, incident: Incident, into_ident: str, *, actor: str, via: Via | None
) -> MergeOut:
    """Merge `incident` into the one `into_ident` names; both as they now are."""
    merged, into = await incident_service.lock_pair(
        session, incident, into_ident, field="body.into"
    )
    incident_service.check_merge(merged, into)
    copied = await timeline_service.copy_entries(session, merged, into)
    alerts = await alert_service.move_alerts(session, merged, into)
    people = await _join_people(session, merged, into, actor=actor, via=via)
    cause = merged.caused_by_deploy_id is not None and into.caused_by_deploy_id is None
    if cause:
        carried = IncidentUpdate(caused_by_deploy_id=merged.caused_by_deploy_id)
        await incident_service.update_incident(session, into, carried, actor=actor)
    moved = MergeMoved(alerts=alerts, participants=people, timeline_entries=copied, cause=cause)
    await incident_service.mark_merged(session, merged, into, moved, actor=actor, via=via)
    return MergeOut(incident=IncidentOut.of(merged), into=IncidentOut.of(into), moved=moved)
