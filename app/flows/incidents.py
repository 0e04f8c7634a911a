"""Opening an incident and changing it, from every entry point (REST, Alertmanager,
stakeholder updates)."""

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import service as catalog_service
from app.catalog.seen import note_services
from app.checklists import service as checklist_service
from app.checklists.template import ChecklistTemplate
from app.core.actors import Via
from app.engagement import service as engagement_service
from app.engagement.policy import EscalationPolicy
from app.flows import participants as participant_flows
from app.flows import updates as update_flows
from app.incidents import recurrence
from app.incidents import service as incident_service
from app.incidents.models import Incident
from app.incidents.schemas import IncidentCreate, IncidentUpdate
from app.status_updates import service as update_service
from app.status_updates.models import StatusUpdate
from app.status_updates.schemas import UpdateCreate


async def open_incident(
    session: AsyncSession,
    data: IncidentCreate,
    *,
    template: ChecklistTemplate,
    policy: EscalationPolicy,
    actor: str,
    lookback_days: int | None,
    update_cadence: Mapping[str, float],
    source: str = "api",
    alert_group: str | None = None,
    recurrence_of: recurrence.Match | None = None,
) -> Incident:
    """Open an incident with its checklist, its update cadence (`update_cadence`: minutes
    per severity) and its escalation to SRE (`policy`).

    Its services' catalog entries bring their runbooks and links onto the incident,
    and their extra checklist items onto its checklist; services not in the catalog
    join it unowned.
    With `lookback_days`, the incident is linked to the earlier one it repeats at once.
    Alertmanager passes None: it names the `recurrence_of` it found before opening and
    links any other recurrence once the new incident's alerts are attached.
    """
    # Read before anything is queued, so that the incident's rows (timeline, event,
    # checklist, links, seen services) are all written in one batch at the commit.
    catalog = await catalog_service.for_incident(session, list(dict.fromkeys(data.services)))
    incident = await incident_service.create_incident(
        session,
        data,
        actor=actor,
        source=source,
        alert_group=alert_group,
        recurrence_of=recurrence_of,
    )
    note_services(session, incident.services)
    checklist_service.create_checklist(session, incident, template.extended(catalog.checklist))
    catalog_service.add_links(session, incident, catalog.links)
    update_flows.arm(session, incident, update_cadence)
    engagement_service.start_new(session, incident, policy, catalog.escalations)
    if lookback_days is not None:
        await recurrence.link_recurrence(
            session, incident, lookback_days=lookback_days, actor=actor
        )
    return incident


async def update_incident(
    session: AsyncSession,
    incident: Incident,
    changes: IncidentUpdate,
    *,
    policy: EscalationPolicy,
    actor: str,
    via: Via | None = None,
) -> Incident:
    """A PATCH: the incident's own fields and status, then its commander (a participant).

    `via` is the credential of a request's actor (None for an integration). A severity
    raised into the escalation policy starts escalation; mitigated (or any later status)
    stops it.
    """
    severity, status = incident.severity, incident.status
    await incident_service.update_incident(session, incident, changes, actor=actor)
    if changes.services:
        note_services(session, changes.services)
    if incident.status != status:
        await engagement_service.status_changed(session, incident)
    if incident.severity != severity:
        await engagement_service.start(session, incident, policy)
    if changes.commander is not None and changes.commander != incident.commander:
        await participant_flows.assign_commander(
            session, incident, changes.commander, actor=actor, via=via
        )
    return incident


async def publish_update(
    session: AsyncSession,
    incident: Incident,
    body: UpdateCreate,
    *,
    policy: EscalationPolicy,
    actor: str,
    via: Via | None,
) -> StatusUpdate:
    """A stakeholder update. A status or severity sent with it moves the incident first,
    exactly as a PATCH would (escalation included); a move the status machine refuses
    refuses the update too."""
    moves = {"status": body.status, "severity": body.severity}
    changes = IncidentUpdate.model_validate({k: v for k, v in moves.items() if v is not None})
    if changes.model_fields_set:
        await update_incident(session, incident, changes, policy=policy, actor=actor, via=via)
    return await update_service.publish(session, incident, body, actor=actor, via=via)
