"""Rollback reviews: propose a rollback, have a second person decide, execute, verify."""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, status
from fastapi.responses import JSONResponse

from app.core.actors import ActorMismatch, FourEyes, IncidentActor
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized, UnsupportedMediaType, responses
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.flows import rollbacks as rollback_flows
from app.incidents.deps import CurrentIncident, LockedIncident
from app.incidents.lookup import IncidentNotFound
from app.incidents.models import Incident
from app.rollbacks import service
from app.rollbacks.models import ReviewStatus, RollbackReview
from app.rollbacks.schemas import (
    DECISION_EXAMPLES,
    DecisionIn,
    ExecutionIn,
    ReviewCreate,
    ReviewDetail,
    ReviewOut,
    VerificationIn,
)
from app.rollbacks.service import ReviewStepNotAllowed, RollbackReviewNotFound

ReviewRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The review's id, or `latest` for the incident's newest review",
        examples=["latest"],
    ),
]

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/rollback-reviews",
    tags=["rollback-reviews"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)

_STEP_ERRORS = responses(
    RollbackReviewNotFound,
    ReviewStepNotAllowed,
    ActorMismatch,
    UnsupportedMediaType,
    IdempotencyKeyReused,
)


def _location(incident: Incident, review: RollbackReview) -> str:
    return f"{API_PREFIX}/incidents/{incident.reference}/rollback-reviews/{review.id}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewDetail,
    responses=responses(ActorMismatch, FourEyes, UnsupportedMediaType, IdempotencyKeyReused),
)
async def propose_rollback(
    body: ReviewCreate,
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Propose a rollback with its procedure and risks; it waits for a second person.

    The requester is the actor, a person (a service acting as itself is refused, 409).
    `worked_before` shows the procedure that last worked for the service.
    """
    requester = actor.claim(body.requested_by, field="body.requested_by")
    review = await service.propose(session, incident, body, actor=requester)
    out = ReviewDetail.with_history(review, await service.worked_before(session, review))
    return await idempotency.respond(
        out, status_code=201, headers={"Location": _location(incident, review)}
    )


@router.get("", response_model=Page[ReviewOut])
async def list_rollback_reviews(
    session: SessionDep,
    incident: CurrentIncident,
    page: PageDep,
    _: ReadIncidents,
    status_: Annotated[
        list[ReviewStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
) -> Page[ReviewOut]:
    """The incident's rollback reviews, oldest first (the order they were proposed)."""
    rows = await service.list_reviews(session, incident, page, statuses=status_)
    return rows.to_page(ReviewOut.of)


@router.get("/{review_id}", response_model=ReviewOut, responses=responses(RollbackReviewNotFound))
async def get_rollback_review(
    review_id: ReviewRef, session: SessionDep, incident: CurrentIncident, _: ReadIncidents
) -> ReviewOut:
    """One rollback review, with the step it allows next."""
    return ReviewOut.of(await service.get_review(session, incident, review_id))


@router.post(
    "/{review_id}/decision",
    response_model=ReviewOut,
    responses=responses(
        RollbackReviewNotFound,
        ReviewStepNotAllowed,
        ActorMismatch,
        FourEyes,
        UnsupportedMediaType,
        IdempotencyKeyReused,
    ),
)
async def decide_rollback(
    review_id: ReviewRef,
    body: Annotated[DecisionIn, Body(openapi_examples=DECISION_EXAMPLES)],
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Approve or reject a proposed rollback (four eyes).

    The reviewer is the actor: a person, not the requester (409 `four-eyes`).
    """
    reviewer = actor.claim(body.reviewer, field="body.reviewer")
    review = await service.get_review(session, incident, review_id)
    await rollback_flows.decide(session, incident, review, body, actor=reviewer)
    return await idempotency.respond(ReviewOut.of(review), status_code=200)


@router.post("/{review_id}/execution", response_model=ReviewOut, responses=_STEP_ERRORS)
async def execute_rollback(
    review_id: ReviewRef,
    body: ExecutionIn,
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Report an approved rollback executed; success records a `rolled_back` deploy."""
    executor = actor.claim(body.executed_by, field="body.executed_by")
    review = await service.get_review(session, incident, review_id)
    await rollback_flows.execute(session, incident, review, body, actor=executor)
    return await idempotency.respond(ReviewOut.of(review), status_code=200)


@router.post("/{review_id}/verification", response_model=ReviewOut, responses=_STEP_ERRORS)
async def verify_rollback(
    review_id: ReviewRef,
    body: VerificationIn,
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Report whether the service recovered after the rollback; may mark the incident mitigated."""
    verifier = actor.claim(body.verified_by, field="body.verified_by")
    review = await service.get_review(session, incident, review_id)
    await rollback_flows.verify(session, incident, review, body, actor=verifier)
    return await idempotency.respond(ReviewOut.of(review), status_code=200)
