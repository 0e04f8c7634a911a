import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class ReviewStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTED = "executed"
    VERIFIED = "verified"
    FAILED = "failed"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ExecutionOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class VerificationResult(StrEnum):
    RECOVERED = "recovered"
    NOT_RECOVERED = "not_recovered"


class ReviewAction(StrEnum):
    """The steps a review takes; each is its own POST."""

    DECISION = "decision"
    EXECUTION = "execution"
    VERIFICATION = "verification"


# Which step each state allows; rejected, verified and failed are final.
NEXT_ACTION: dict[ReviewStatus, ReviewAction] = {
    ReviewStatus.PROPOSED: ReviewAction.DECISION,
    ReviewStatus.APPROVED: ReviewAction.EXECUTION,
    ReviewStatus.EXECUTED: ReviewAction.VERIFICATION,
}


class RollbackReview(SQLModel, table=True):
    """A proposed rollback, its second-person review, its execution and its verification."""

    __tablename__ = "rollback_reviews"
    __table_args__ = (
        Index("ix_rollback_reviews_incident_order", "incident_id", "created_at", "id"),
        # A service's rollback readiness (its page): its executed rollbacks, newest first.
        Index("ix_rollback_reviews_service_executed_at", "service", "executed_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    service: str = Field(max_length=100)
    environment: str = Field(max_length=100)
    deploy_id: uuid.UUID | None = Field(
        default=None, foreign_key="deploys.id", ondelete="SET NULL", description="Rolled back"
    )
    from_version: str | None = Field(default=None, max_length=200)
    to_version: str = Field(max_length=200)
    procedure: list[str] = Field(sa_type=JSONType)
    risks: str | None = Field(default=None, sa_type=Text)
    requested_by: str = Field(max_length=100)
    status: ReviewStatus = Field(default=ReviewStatus.PROPOSED, sa_type=String(16))

    reviewer: str | None = Field(default=None, max_length=100)
    decision_comment: str | None = Field(default=None, sa_type=Text)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    executed_by: str | None = Field(default=None, max_length=100)
    execution_outcome: ExecutionOutcome | None = Field(default=None, sa_type=String(16))
    execution_note: str | None = Field(default=None, sa_type=Text)
    executed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    verified_by: str | None = Field(default=None, max_length=100)
    verification_result: VerificationResult | None = Field(default=None, sa_type=String(16))
    verification_note: str | None = Field(default=None, sa_type=Text)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    rollback_deploy_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="deploys.id",
        ondelete="SET NULL",
        description="The `rolled_back` deploy recorded when the rollback was executed",
    )
    # The credential behind each person field, by field (`requested_by`, `reviewer`,
    # `executed_by`, `verified_by`); null on reviews older than actors.
    via: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
