"""The events of a rollback review: requested, decided, executed (verification has none)."""

from typing import ClassVar

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.core.events import EventType
from app.deploys.schemas import DeployOut
from app.incidents.events import OnIncident
from app.rollbacks.models import Decision, ExecutionOutcome
from app.rollbacks.schemas import ReviewOut


class _ReviewEvent(OnIncident):
    rollback_review: ReviewOut


class RollbackReviewRequested(_ReviewEvent):
    """A rollback review was proposed."""

    type: ClassVar[EventType] = EventType.ROLLBACK_REVIEW_REQUESTED


class RollbackReviewDecided(_ReviewEvent):
    """A rollback review was approved or rejected."""

    type: ClassVar[EventType] = EventType.ROLLBACK_REVIEW_DECIDED

    decision: Decision


class RollbackReviewExecuted(_ReviewEvent):
    """A rollback was executed."""

    type: ClassVar[EventType] = EventType.ROLLBACK_REVIEW_EXECUTED

    outcome: ExecutionOutcome
    deploy: DeployOut | SkipJsonSchema[None] = Field(
        default=None,
        exclude_if=lambda deploy: deploy is None,
        description="The `rollback` deploy recorded for it; absent when the rollback failed",
    )
