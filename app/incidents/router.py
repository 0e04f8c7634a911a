"""Incidents: open, find, read and change them, and move them along the status machine."""

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response, status
from fastapi.responses import JSONResponse

from app.core.actors import IncidentActor
from app.core.api import API_PREFIX
from app.core.clock import AwareUTC
from app.core.db import SessionDep, SettingsDep
from app.core.errors import (
    BadRequest,
    Forbidden,
    PreconditionFailed,
    Unauthorized,
    UnsupportedMediaType,
    responses,
)
from app.core.etags import check_if_match
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.engagement import service as engagement_service
from app.engagement.schemas import EngagementOut, IncidentWithEngagement
from app.flows import incidents as incident_flows
from app.flows import merges
from app.incidents import relations, service
from app.incidents.deps import (
    CurrentIncident,
    IncidentId,
    LockedIncident,
    PolicyDep,
    TemplateDep,
    WritableIncident,
)
from app.incidents.lookup import IncidentNotFound
from app.incidents.models import Incident
from app.incidents.relations import AlreadyRelated, RelationNotFound
from app.incidents.schemas import (
    UPDATE_EXAMPLES,
    IncidentCreate,
    IncidentOut,
    IncidentUpdate,
    MergeOut,
    MergeRequest,
    RelationCreate,
    RelationOut,
    incident_json,
)
from app.incidents.service import IncidentFilters, InvalidTransition, MergeTargetFinal, SameIncident
from app.incidents.state import Severity, Status

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents",
    tags=["incidents"],
    responses=responses(Unauthorized, Forbidden),
)


def etag(incident: Incident) -> str:
    return f'"{incident.id.hex[:12]}.{incident.version}"'


def _headers(incident: Incident) -> dict[str, str]:
    return {"ETag": etag(incident), "Location": f"{API_PREFIX}/incidents/{incident.reference}"}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentOut,
    responses=responses(UnsupportedMediaType, IdempotencyKeyReused),
)
async def create_incident(
    body: IncidentCreate,
    settings: SettingsDep,
    session: SessionDep,
    actor: IncidentActor,
    idempotency: IdempotencyDep,
    template: TemplateDep,
    policy: PolicyDep,
) -> JSONResponse:
    """Open an incident: it starts `triggered`, with its checklist, and SRE is notified
    (escalating until an SRE joins)."""
    incident = await incident_flows.open_incident(
        session,
        body,
        template=template,
        policy=policy,
        actor=actor.handle,
        lookback_days=settings.recurrence_lookback_days,
        update_cadence=settings.update_cadence,
    )
    return await idempotency.respond(
        IncidentOut.of(incident), status_code=201, headers=_headers(incident)
    )


@router.get("", response_model=Page[IncidentOut])
async def list_incidents(
    session: SessionDep,
    page: PageDep,
    _: ReadIncidents,
    status_: Annotated[
        list[Status] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    severity: Annotated[list[Severity] | None, Query(description="Repeat for several")] = None,
    service_name: Annotated[
        str | None, Query(alias="service", max_length=100, description="Incidents touching it")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in title or summary")] = None,
    created_after: AwareUTC | None = None,
    created_before: AwareUTC | None = None,
    open_: Annotated[
        bool | None,
        Query(alias="open", description="true: not yet resolved, closed or declined"),
    ] = None,
    label: Annotated[
        list[str] | None,
        Query(
            description="`key:value`: the label has that value; `key:` alone: the label is "
            "set. Repeat for several: an incident must match all of them.",
            examples=["team:payments"],
        ),
    ] = None,
) -> Response:
    """List incidents, newest first, filtered."""
    filters = IncidentFilters(
        statuses=status_,
        severities=severity,
        service=service_name,
        q=q,
        created_after=created_after,
        created_before=created_before,
        open=open_,
        labels=service.parse_label_filters(label or []),
    )
    rows = await service.list_incidents(session, filters, page)
    return rows.to_response(incident_json)


@router.get(
    "/{incident_id}",
    response_model=IncidentWithEngagement,
    responses={**responses(IncidentNotFound), 304: {"description": "Not modified (If-None-Match)"}},
)
async def get_incident(
    incident: CurrentIncident,
    session: SessionDep,
    _: ReadIncidents,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One incident by UUID or reference (`INC-42`), with its `ETag` and its SRE
    `engagement` (when SRE engaged, the escalation level reached, the next one's time)."""
    tag = etag(incident)
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": tag})
    engagement = EngagementOut.of(await engagement_service.get(session, incident.id))
    shown = IncidentWithEngagement(**IncidentOut.of(incident).model_dump(), engagement=engagement)
    return JSONResponse(shown.model_dump(mode="json"), headers={"ETag": tag})


@router.patch(
    "/{incident_id}",
    response_model=IncidentOut,
    responses=responses(
        IncidentNotFound, BadRequest, InvalidTransition, PreconditionFailed, UnsupportedMediaType
    ),
)
async def update_incident(
    body: Annotated[IncidentUpdate, Body(openapi_examples=UPDATE_EXAMPLES)],
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
    policy: PolicyDep,
    if_match: Annotated[
        str | None,
        Header(description="The `ETag` you read; a stale one is refused with 412"),
    ] = None,
) -> JSONResponse:
    """Change fields, move the status, name the commander or the causing deploy."""
    check_if_match(etag(incident), if_match, what=incident.reference)
    await incident_flows.update_incident(
        session, incident, body, policy=policy, actor=actor.handle, via=actor.via
    )
    return JSONResponse(
        IncidentOut.of(incident).model_dump(mode="json"), headers={"ETag": etag(incident)}
    )


@router.post(
    "/{incident_id}/merge",
    response_model=MergeOut,
    responses=responses(
        IncidentNotFound, InvalidTransition, MergeTargetFinal, SameIncident, UnsupportedMediaType
    ),
)
async def merge_incident(
    body: MergeRequest, session: SessionDep, incident: WritableIncident, actor: IncidentActor
) -> MergeOut:
    """Merge this incident into another: its alerts (and their group), people, timeline
    and causing deploy move there, and it ends `merged`."""
    return await merges.merge(session, incident, body.into, actor=actor.handle, via=actor.via)


@router.post(
    "/{incident_id}/relations",
    status_code=status.HTTP_201_CREATED,
    response_model=RelationOut,
    responses=responses(IncidentNotFound, AlreadyRelated, SameIncident, UnsupportedMediaType),
)
async def relate_incident(
    body: RelationCreate, session: SessionDep, incident: WritableIncident, actor: IncidentActor
) -> RelationOut:
    """Relate this incident to another: `related`, `causes` or `caused_by` (read from this one)."""
    return await relations.relate(session, incident, body, actor=actor.handle, via=actor.via)


@router.get(
    "/{incident_id}/relations",
    response_model=list[RelationOut],
    responses=responses(IncidentNotFound),
)
async def list_relations(
    session: SessionDep, incident: CurrentIncident, _: ReadIncidents
) -> list[RelationOut]:
    """The incidents this one is related to, as this one reads each relation."""
    return await relations.list_relations(session, incident)


@router.delete(
    "/{incident_id}/relations/{other_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(IncidentNotFound, RelationNotFound),
)
async def unrelate_incident(
    other_id: IncidentId, session: SessionDep, incident: WritableIncident, actor: IncidentActor
) -> Response:
    """Remove the relation to another incident; both timelines keep a record of it."""
    await relations.unrelate(session, incident, other_id, actor=actor.handle, via=actor.via)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
