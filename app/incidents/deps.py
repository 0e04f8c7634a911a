"""HTTP dependencies shared by every router that works on one incident."""

from typing import Annotated

from fastapi import Depends, Path, Request

from app.checklists.template import ChecklistTemplate
from app.contributing_factors.taxonomy import Taxonomy
from app.core.db import SessionDep
from app.core.security import ReadIncidents, WriteIncidents
from app.engagement.policy import EscalationPolicy
from app.incidents import lookup
from app.incidents.models import Incident

IncidentId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The incident's UUID or its reference (`INC-42`)",
        examples=["INC-42"],
    ),
]


# Each takes the caller first, so an unauthorised request is refused before any
# lookup can tell it whether the incident exists.


async def _current_incident(
    session: SessionDep, incident_id: IncidentId, _: ReadIncidents
) -> Incident:
    return await lookup.get_incident(session, incident_id)


async def _writable_incident(
    session: SessionDep, incident_id: IncidentId, _: WriteIncidents
) -> Incident:
    return await lookup.get_incident(session, incident_id)


async def _current_incident_for_update(
    session: SessionDep, incident_id: IncidentId, _: WriteIncidents
) -> Incident:
    # Row lock (PostgreSQL): writes to one incident are serialised, so two clients
    # moving it at once cannot both succeed with the same move.
    return await lookup.get_incident(session, incident_id, for_update=True)


async def _checklist_template(request: Request) -> ChecklistTemplate:
    template: ChecklistTemplate = request.app.state.checklist_template
    return template


async def _factor_taxonomy(request: Request) -> Taxonomy:
    taxonomy: Taxonomy = request.app.state.factor_taxonomy
    return taxonomy


async def _escalation_policy(request: Request) -> EscalationPolicy:
    policy: EscalationPolicy = request.app.state.escalation_policy
    return policy


CurrentIncident = Annotated[Incident, Depends(_current_incident)]
# For writes that add to an incident without changing its row (no lock needed).
WritableIncident = Annotated[Incident, Depends(_writable_incident)]
LockedIncident = Annotated[Incident, Depends(_current_incident_for_update)]
TemplateDep = Annotated[ChecklistTemplate, Depends(_checklist_template)]
TaxonomyDep = Annotated[Taxonomy, Depends(_factor_taxonomy)]
PolicyDep = Annotated[EscalationPolicy, Depends(_escalation_policy)]
