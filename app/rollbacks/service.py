"""Rollback reviews: proposed, decided by a second person, executed, verified.

The checklist ticks, the rollback's deploy record and the status move a step brings
are `app.flows.rollbacks`. Callers hold the incident's row lock (`LockedIncident`), so
steps on one incident's reviews are serialised and a review read here is the
committed, current one.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.actors import Actor
from app.core.clock import utcnow
from app.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from app.core.events import emit
from app.core.pagination import PageParams, Rows, paginate
from app.deploys import service as deploys_service
from app.deploys.models import Deploy
from app.deploys.schemas import DeployOut
from app.incidents.lookup import child_of
from app.incidents.models import Incident
from app.incidents.schemas import IncidentRef
from app.incidents.state import Status, can_move
from app.rollbacks.events import (
    RollbackReviewDecided,
    RollbackReviewExecuted,
    RollbackReviewRequested,
)
from app.rollbacks.models import (
    NEXT_ACTION,
    Decision,
    ExecutionOutcome,
    ReviewAction,
    ReviewStatus,
    RollbackReview,
    VerificationResult,
)
from app.rollbacks.schemas import DecisionIn, ExecutionIn, ReviewCreate, ReviewOut, VerificationIn
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

ROLLBACK_CHECKLIST_KEY = "rollback_decided"
RECOVERY_CHECKLIST_KEY = "recovery_verified"


@dataclass(frozen=True)
class Step:
    """A review step taken: the review, the step's summary, and whether to mitigate."""

    review: RollbackReview
    summary: str
    mitigate: bool = False


class RollbackReviewNotFound(NotFound):
    pass


class ReviewStepNotAllowed(Conflict):
    code, title = "invalid-review-step", "Rollback review step not allowed"


def _invalid(field: str, message: str, detail: str) -> InvalidInput:
    return InvalidInput(
        detail, errors=[FieldProblem(field=f"body.{field}", message=message, type="value_error")]
    )


def _what(review: RollbackReview) -> str:
    """`checkout 2.4.0 → 2.3.9`, or `checkout to 2.3.9` when the current version is unknown."""
    if review.from_version:
        return f"{review.service} {review.from_version} → {review.to_version}"
    return f"{review.service} to {review.to_version}"


async def _record(
    session: AsyncSession,
    incident: Incident,
    review: RollbackReview,
    summary: str,
    *,
    actor: Actor,
    field: str,
    event: type[RollbackReviewRequested | RollbackReviewDecided | RollbackReviewExecuted] | None,
    **extra: Any,
) -> None:
    """The step's timeline entry and (for most steps) its domain event, in this transaction.

    The step's actor is the person of its `field`; the credential is kept beside it.
    """
    review.via = {**(review.via or {}), field: actor.via.stored()}
    review.updated_at = utcnow()
    await session.flush()
    timeline_service.record(
        session,
        incident,
        EntryKind.ROLLBACK_REVIEW,
        summary,
        author=actor.handle,
        data={"rollback_review_id": str(review.id), "status": review.status, **extra},
    )
    if event is not None:
        ref, out = IncidentRef.of(incident), ReviewOut.of(review)
        emit(session, event.model_validate({"incident": ref, "rollback_review": out, **extra}))


def check_step(review: RollbackReview, action: ReviewAction) -> None:
    current = ReviewStatus(review.status)
    allowed = NEXT_ACTION.get(current)
    if allowed == action:
        return
    detail = f"The rollback review is {current}; " + (
        f"the next step is its {allowed}" if allowed else "it is over, no step is left"
    )
    raise ReviewStepNotAllowed(
        detail, extra={"current": current, "allowed": [allowed] if allowed else []}
    )


async def worked_before(session: AsyncSession, review: RollbackReview) -> RollbackReview | None:
    """The last other rollback of the review's service executed and verified as recovered."""
    statement = (
        select(RollbackReview)
        .where(
            col(RollbackReview.service) == review.service,
            col(RollbackReview.executed_at).is_not(None),
            col(RollbackReview.verification_result) == VerificationResult.RECOVERED,
            col(RollbackReview.id) != review.id,
        )
        .order_by(col(RollbackReview.executed_at).desc())
        .limit(1)
    )
    return await session.scalar(statement)


async def propose(
    session: AsyncSession, incident: Incident, data: ReviewCreate, *, actor: Actor
) -> RollbackReview:
    """A person proposes a rollback (`actor`, the one `requested_by` names)."""
    actor.require_person("propose a rollback")
    deploy: Deploy | None = None
    if data.deploy_id is not None:
        try:
            deploy = await deploys_service.get_deploy(session, data.deploy_id)
        except deploys_service.DeployNotFound:
            raise _invalid("deploy_id", "unknown deploy", f"No deploy {data.deploy_id}") from None
        if deploy.service != data.service:
            raise _invalid(
                "deploy_id",
                "is a deploy of another service",
                f"Deploy {deploy.id} is of {deploy.service}, not {data.service}",
            )
    environment = (
        data.environment
        or (deploy.environment if deploy else None)
        or deploys_service.incident_environment(incident)
    )
    if environment is None:
        raise _invalid(
            "environment",
            "required when neither the deploy nor the incident's labels name one",
            "Say which environment to roll back in",
        )
    from_version = data.from_version or (deploy.version if deploy else None)
    if from_version == data.to_version:
        raise _invalid(
            "to_version", "equals from_version", f"{data.service} already runs {data.to_version}"
        )
    review = RollbackReview(
        incident_id=incident.id,
        service=data.service,
        environment=environment,
        deploy_id=deploy.id if deploy else None,
        from_version=from_version,
        to_version=data.to_version,
        procedure=data.procedure,
        risks=data.risks,
        requested_by=actor.handle,
    )
    session.add(review)
    await _record(
        session,
        incident,
        review,
        f"Rollback of {_what(review)} proposed by {review.requested_by}",
        actor=actor,
        field="requested_by",
        event=RollbackReviewRequested,
    )
    return review


async def decide(
    session: AsyncSession,
    incident: Incident,
    review: RollbackReview,
    data: DecisionIn,
    *,
    actor: Actor,
) -> Step:
    """Four eyes: the decision's actor is a person, and not the one who proposed it."""
    check_step(review, ReviewAction.DECISION)
    actor.require_second_person(
        review.requested_by, "decide on this rollback", field="requested_by"
    )
    approved = data.decision == Decision.APPROVE
    review.status = ReviewStatus.APPROVED if approved else ReviewStatus.REJECTED
    review.reviewer, review.decision_comment = actor.handle, data.comment
    review.decided_at = utcnow()
    verdict = "approved" if approved else "rejected"
    summary = f"Rollback of {_what(review)} {verdict} by {actor.handle}"
    await _record(
        session,
        incident,
        review,
        f"{summary}: {data.comment}" if data.comment else summary,
        actor=actor,
        field="reviewer",
        event=RollbackReviewDecided,
        decision=data.decision,
    )
    return Step(review, f"{'yes' if approved else 'no'}: {summary}")


async def execute(
    session: AsyncSession,
    incident: Incident,
    review: RollbackReview,
    data: ExecutionIn,
    *,
    actor: Actor,
    deploy: Deploy | None,
) -> RollbackReview:
    """Record the execution; `deploy` is the rollback's deploy record when it succeeded.

    Anyone may report it, a service too (a pipeline that ran the rollback).
    """
    check_step(review, ReviewAction.EXECUTION)
    succeeded = data.outcome == ExecutionOutcome.SUCCEEDED
    review.status = ReviewStatus.EXECUTED if succeeded else ReviewStatus.FAILED
    review.executed_by, review.execution_outcome = actor.handle, data.outcome
    review.execution_note, review.executed_at = data.note, utcnow()
    extra: dict[str, Any] = {"outcome": data.outcome}
    if succeeded and deploy is not None:
        review.rollback_deploy_id = deploy.id
        extra["deploy"] = DeployOut.model_validate(deploy).model_dump(mode="json")
        summary = f"Rollback of {_what(review)} executed by {actor.handle}"
    else:
        summary = f"Rollback of {_what(review)} attempted by {actor.handle} and failed"
    await _record(
        session,
        incident,
        review,
        f"{summary}: {data.note}" if data.note else summary,
        actor=actor,
        field="executed_by",
        event=RollbackReviewExecuted,
        **extra,
    )
    return review


async def verify(
    session: AsyncSession,
    incident: Incident,
    review: RollbackReview,
    data: VerificationIn,
    *,
    actor: Actor,
) -> Step:
    """Record whether the service recovered; anyone may check it, a monitor too."""
    recovered = data.result == VerificationResult.RECOVERED
    if data.mark_mitigated and not recovered:
        raise _invalid(
            "mark_mitigated",
            "only with result `recovered`",
            "An incident that did not recover cannot be marked mitigated",
        )
    check_step(review, ReviewAction.VERIFICATION)
    review.status = ReviewStatus.VERIFIED if recovered else ReviewStatus.FAILED
    review.verified_by, review.verification_result = actor.handle, data.result
    review.verification_note, review.verified_at = data.note, utcnow()
    mitigate = data.mark_mitigated and can_move(Status(incident.status), Status.MITIGATED)
    outcome = "recovered" if recovered else "did not recover"
    summary = f"Rollback of {_what(review)} verified by {actor.handle}: {outcome}"
    await _record(
        session,
        incident,
        review,
        f"{summary} ({data.note})" if data.note else summary,
        actor=actor,
        field="verified_by",
        event=None,  # the outbound catalogue has requested, decided and executed only
        result=data.result,
        marked_mitigated=mitigate,
    )
    return Step(review, summary, mitigate=mitigate)


LATEST = "latest"


async def get_review(session: AsyncSession, incident: Incident, ident: str) -> RollbackReview:
    """A review by id, or the incident's newest one by `latest`."""
    if ident == LATEST:
        newest = (col(RollbackReview.created_at).desc(), col(RollbackReview.id).desc())
        return await child_of(
            session,
            RollbackReview,
            incident,
            order_by=newest,
            missing=RollbackReviewNotFound,
            what=f"rollback review {ident}",
        )
    try:
        review_id = uuid.UUID(ident)
    except ValueError:
        raise RollbackReviewNotFound(
            f"`{ident}` is neither a rollback review's id nor `{LATEST}`"
        ) from None
    return await child_of(
        session,
        RollbackReview,
        incident,
        col(RollbackReview.id) == review_id,
        missing=RollbackReviewNotFound,
        what=f"rollback review {ident}",
    )


async def reviews_of(session: AsyncSession, incident: Incident) -> Sequence[RollbackReview]:
    """Every review of the incident, oldest first (for the postmortem)."""
    statement = (
        select(RollbackReview)
        .where(col(RollbackReview.incident_id) == incident.id)
        .order_by(col(RollbackReview.created_at), col(RollbackReview.id))
    )
    return (await session.scalars(statement)).all()


async def list_reviews(
    session: AsyncSession,
    incident: Incident,
    page: PageParams,
    *,
    statuses: list[ReviewStatus] | None = None,
) -> Rows[RollbackReview]:
    """The incident's reviews in the order they were proposed, oldest first."""
    statement = select(RollbackReview).where(col(RollbackReview.incident_id) == incident.id)
    if statuses:
        statement = statement.where(col(RollbackReview.status).in_(statuses))
    return await paginate(
        session,
        statement,
        page,
        col(RollbackReview.created_at),
        col(RollbackReview.id),
        descending=False,
    )
