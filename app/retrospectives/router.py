"""The retrospective people write: its sections, its review and publication, its revisions."""

from typing import Annotated

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse

from app.core.actors import IncidentActor, Via
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import (
    BadRequest,
    Forbidden,
    InvalidInput,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    UnsupportedMediaType,
    responses,
)
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.flows import retrospectives as retrospective_flows
from app.incidents.deps import CurrentIncident, LockedIncident
from app.incidents.lookup import IncidentNotFound
from app.incidents.models import Incident
from app.retrospectives import service
from app.retrospectives.models import Retrospective, RetrospectiveState
from app.retrospectives.schemas import RetrospectiveOut, RetrospectiveWrite, RevisionOut, Sections
from app.retrospectives.service import InvalidRetrospectiveMove, RetrospectiveNotFound

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/postmortem",
    tags=["postmortems"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)

IfMatch = Annotated[
    str | None,
    Header(description="The `ETag` you read; a stale one is refused with 412"),
]


def _answer(incident: Incident, retrospective: Retrospective) -> JSONResponse:
    out = service.describe(incident, retrospective)
    return JSONResponse(out.model_dump(mode="json"), headers={"ETag": out.etag})


@router.put(
    "",
    response_model=RetrospectiveOut,
    responses=responses(
        BadRequest, InvalidInput, PreconditionFailed, PreconditionRequired, UnsupportedMediaType
    ),
)
async def write_retrospective(
    body: Annotated[RetrospectiveWrite, Body()],
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
    if_match: Annotated[
        str | None,
        Header(
            description="Required once the retrospective exists: the `ETag` you read "
            "(412 when someone changed it since, 428 when missing)"
        ),
    ] = None,
) -> JSONResponse:
    """Write sections of the retrospective; the first write starts from the drafted record.

    Sections left out keep their text. Changing a published retrospective starts its
    next revision as a draft; the published one stays as it was (`…/revisions`).
    """
    retrospective = await retrospective_flows.write(
        session, incident, body, if_match=if_match, actor=actor
    )
    return _answer(incident, retrospective)


@router.post(
    "/review",
    response_model=RetrospectiveOut,
    responses=responses(
        BadRequest, PreconditionFailed, RetrospectiveNotFound, InvalidRetrospectiveMove
    ),
)
async def review_retrospective(
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Send the draft for review (`draft` → `in_review`)."""
    retrospective = await service.move(
        session, incident, RetrospectiveState.IN_REVIEW, if_match=if_match, actor=actor
    )
    return _answer(incident, retrospective)


@router.post(
    "/publish",
    response_model=RetrospectiveOut,
    responses=responses(
        BadRequest, PreconditionFailed, RetrospectiveNotFound, InvalidRetrospectiveMove
    ),
)
async def publish_retrospective(
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Publish the reviewed revision (`in_review` → `published`); it never changes again."""
    retrospective = await service.move(
        session, incident, RetrospectiveState.PUBLISHED, if_match=if_match, actor=actor
    )
    return _answer(incident, retrospective)


@router.get("/revisions", response_model=Page[RevisionOut], responses=responses(InvalidInput))
async def list_revisions(
    session: SessionDep, incident: CurrentIncident, page: PageDep, _: ReadIncidents
) -> Page[RevisionOut]:
    """The published revisions, oldest first, each exactly as it was published."""
    rows = await service.revisions(session, incident, page)
    return rows.to_page(
        lambda revision: RevisionOut(
            revision=revision.revision,
            sections=Sections.model_validate(revision.sections),
            published_by=revision.published_by,
            published_via=Via.model_validate(revision.published_via)
            if revision.published_via
            else None,
            published_at=revision.published_at,
        )
    )
