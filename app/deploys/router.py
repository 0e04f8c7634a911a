"""Release history: CI reports deploys; people and other domains read them."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from app.catalog import service as catalog_service
from app.core.api import API_PREFIX
from app.core.db import SessionDep, SettingsDep
from app.core.errors import Forbidden, NotFound, Unauthorized, UnsupportedMediaType, responses
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents, WriteDeploys
from app.deploys import service
from app.deploys.models import DeploySource, DeployStatus
from app.deploys.schemas import DeployCreate, DeployOut, SuspectDeployOut, Timestamp
from app.deploys.service import ExternalIdTaken, Suspect
from app.deploys.window import parse_window
from app.flows import deploys as deploy_flows
from app.incidents.deps import CurrentIncident
from app.incidents.lookup import IncidentNotFound

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/deploys",
    tags=["deploys"],
    responses=responses(Unauthorized, Forbidden),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DeployOut,
    responses={
        200: {
            "model": DeployOut,
            "description": "A deploy with this `external_id` existed and was updated",
        },
        **responses(UnsupportedMediaType, IdempotencyKeyReused, ExternalIdTaken),
    },
)
async def record_deploy(
    body: DeployCreate, session: SessionDep, caller: WriteDeploys, idempotency: IdempotencyDep
) -> JSONResponse:
    """Report a deploy from CI; re-sending its `external_id` updates the same deploy.

    Only the API key that reported a deploy updates it: another key sending the same
    `external_id` gets 409. Muster's own records (source `muster`) are not reachable here.
    """
    deploy, created = await deploy_flows.record_deploy(
        session, source=DeploySource.API, reported_by=caller.subject, **body.model_dump()
    )
    out = DeployOut.model_validate(deploy)
    if not created:
        return await idempotency.respond(out, status_code=status.HTTP_200_OK)
    return await idempotency.respond(
        out,
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"{API_PREFIX}/deploys/{deploy.id}"},
    )


@router.get("", response_model=Page[DeployOut])
async def list_deploys(
    session: SessionDep,
    page: PageDep,
    _: ReadIncidents,
    service_name: Annotated[str | None, Query(alias="service", max_length=100)] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    deploy_status: Annotated[
        list[DeployStatus] | None, Query(alias="status", description="Repeatable")
    ] = None,
    since: Annotated[
        Timestamp | None,
        Query(description="Finished (or, while unfinished, started) at or after this time"),
    ] = None,
    until: Annotated[
        Timestamp | None, Query(description="Finished (or, while unfinished, started) before this")
    ] = None,
    unprotected: Annotated[
        bool | None,
        Query(description="true: deploys that arrived with prevention measures missing"),
    ] = None,
) -> Page[DeployOut]:
    """List deploys, most recently finished (or started, while running) first."""
    rows = await service.list_deploys(
        session,
        page,
        service=service_name,
        environment=environment,
        statuses=deploy_status,
        since=since,
        until=until,
        unprotected=unprotected,
    )
    return rows.to_page(DeployOut.model_validate)


@router.get("/{deploy_id}", response_model=DeployOut, responses=responses(NotFound))
async def get_deploy(deploy_id: uuid.UUID, session: SessionDep, _: ReadIncidents) -> DeployOut:
    """One deploy by id, with the release gate's finding (`unprotected`, `missing_measures`)."""
    return DeployOut.model_validate(await service.get_deploy(session, deploy_id))


suspects_router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/suspect-deploys",
    tags=["deploys"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


@suspects_router.get("", response_model=Page[SuspectDeployOut])
async def list_suspect_deploys(
    session: SessionDep,
    incident: CurrentIncident,
    page: PageDep,
    settings: SettingsDep,
    _: ReadIncidents,
    window: Annotated[
        str | None,
        Query(
            max_length=64,
            description="How far back from the impact start to look: whole minutes (`90`) or "
            "an ISO 8601 duration in weeks, days, hours, minutes, seconds (`PT6H`, `P1D`). "
            "Default 24 hours, at most 30 days.",
            examples=["PT6H"],
        ),
    ] = None,
) -> Page[SuspectDeployOut]:
    """Deploys of the incident's services and of the services they depend on (catalog
    `depends_on`, `MUSTER_SUSPECT_DEPENDENCY_DEPTH` steps, default 2) up to its impact
    start (none after), closest first; at the same time, the incident's own services first.
    """
    reach = await catalog_service.reach(
        session, incident.services, depth=settings.suspect_dependency_depth
    )
    rows = await service.suspect_deploys(
        session, incident, window=parse_window(window), page=page, reach=reach
    )
    return rows.to_page(_suspect_out)


def _suspect_out(suspect: Suspect) -> SuspectDeployOut:
    return SuspectDeployOut(
        **DeployOut.model_validate(suspect.deploy).model_dump(),
        minutes_before_impact=suspect.minutes_before_impact,
        flagged=suspect.flagged,
        is_cause=suspect.is_cause,
        via=suspect.via,
    )
