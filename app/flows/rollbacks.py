"""Rollback review steps and what they bring: checklist ticks, a deploy record, mitigation."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.actors import Actor
from app.core.clock import utcnow
from app.deploys import service as deploys_service
from app.deploys.models import Deploy, DeployKind, DeploySource, DeployStatus
from app.flows import checklists as checklist_flows
from app.incidents import service as incident_service
from app.incidents.models import Incident
from app.incidents.state import Status
from app.rollbacks import service as rollback_service
from app.rollbacks.models import (
    ExecutionOutcome,
    ReviewAction,
    RollbackReview,
    VerificationResult,
)
from app.rollbacks.schemas import DecisionIn, ExecutionIn, VerificationIn


async def decide(
    session: AsyncSession,
    incident: Incident,
    review: RollbackReview,
    data: DecisionIn,
    *,
    actor: Actor,
) -> RollbackReview:
    """A second person approves or rejects: `rollback_decided` is ticked either way."""
    step = await rollback_service.decide(session, incident, review, data, actor=actor)
    await checklist_flows.tick(
        session, incident, rollback_service.ROLLBACK_CHECKLIST_KEY, step.summary
    )
    return review


async def _record_rollback_deploy(
    session: AsyncSession, review: RollbackReview, *, actor: str
) -> Deploy:
    now = utcnow()
    deploy, _ = await deploys_service.record_deploy(
        session,
        source=DeploySource.MUSTER,
        external_id=f"muster-rollback-review-{review.id}",
        service=review.service,
        environment=review.environment,
        status=DeployStatus.ROLLED_BACK,
        kind=DeployKind.ROLLBACK,
        version=review.to_version,
        started_at=now,
        finished_at=now,
        actor=actor,
    )
    return deploy


async def execute(
    session: AsyncSession,
    incident: Incident,
    review: RollbackReview,
    data: ExecutionIn,
    *,
    actor: Actor,
) -> RollbackReview:
    """The rollback ran: a successful one is recorded as a `rollback` deploy."""
    rollback_service.check_step(review, ReviewAction.EXECUTION)
    deploy = None
    if data.outcome == ExecutionOutcome.SUCCEEDED:
        deploy = await _record_rollback_deploy(session, review, actor=actor.handle)
    return await rollback_service.execute(
        session, incident, review, data, actor=actor, deploy=deploy
    )


async def verify(
    session: AsyncSession,
    incident: Incident,
    review: RollbackReview,
    data: VerificationIn,
    *,
    actor: Actor,
) -> RollbackReview:
    """Recovery checked: ticks `recovery_verified`, and may mark the incident mitigated."""
    step = await rollback_service.verify(session, incident, review, data, actor=actor)
    if data.result == VerificationResult.RECOVERED:
        await checklist_flows.tick(
            session, incident, rollback_service.RECOVERY_CHECKLIST_KEY, step.summary
        )
    if step.mitigate:
        await incident_service.move(session, incident, Status.MITIGATED, actor=actor.handle)
    return review
