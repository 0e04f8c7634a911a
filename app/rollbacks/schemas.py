import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    computed_field,
)

from app.core.text import NOT_BLANK, TRIMMED
from app.incidents.schemas import Handle
from app.rollbacks.models import (
    NEXT_ACTION,
    Decision,
    ExecutionOutcome,
    ReviewAction,
    ReviewStatus,
    RollbackReview,
    VerificationResult,
)

Name = Annotated[str, Field(min_length=1, max_length=100), NOT_BLANK]
Version = Annotated[str, Field(min_length=1, max_length=200), NOT_BLANK]
Step = Annotated[str, Field(min_length=1, max_length=2000), NOT_BLANK]
Note = Annotated[str, Field(max_length=20_000), TRIMMED]


class ReviewCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "service": "checkout",
                "environment": "production",
                "deploy_id": "5b0c7a52-0d0e-4c55-9a53-1f4f3c1e9d21",
                "from_version": "2.4.0",
                "to_version": "2.3.9",
                "procedure": [
                    "Pause the checkout deploy pipeline",
                    "helm rollback checkout 41 -n shop",
                    "Watch 5xx rate and p99 latency for 10 minutes",
                ],
                "risks": "2.4.0 migrated the carts table; 2.3.9 ignores the new column.",
                "requested_by": "alice",
            }
        },
    )

    service: Name
    environment: Name | None = Field(
        default=None,
        description="Where to roll back. Default: the deploy's environment, else the "
        "incident's `environment` (or `env`) label",
    )
    deploy_id: uuid.UUID | None = Field(
        default=None, description="The deploy being rolled back (a deploy of `service`)"
    )
    from_version: Version | None = Field(
        default=None, description="The version running now. Default: the deploy's version"
    )
    to_version: Version = Field(description="The version to go back to")
    procedure: list[Step] = Field(
        min_length=1, max_length=50, description="The steps, in order; at least one"
    )
    risks: Note | None = Field(default=None, description="What could go wrong")
    requested_by: Handle = Field(description="Who proposes it; may not approve it")


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "decision": "approve",
                "reviewer": "bob",
                "comment": "Procedure checked; the carts column is ignored by 2.3.9.",
            }
        },
    )

    decision: Decision
    reviewer: Handle = Field(description="A second person: not the requester (case-insensitive)")
    comment: Note | None = None


class ExecutionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "executed_by": "carol",
                "outcome": "succeeded",
                "note": "helm rollback done at 14:31; all pods on 2.3.9",
            }
        },
    )

    executed_by: Handle
    outcome: ExecutionOutcome = Field(
        description="`succeeded` records a `rolled_back` deploy; `failed` ends the review"
    )
    note: Note | None = None


class VerificationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "verified_by": "bob",
                "result": "recovered",
                "note": "5xx back to 0.1% for 10 minutes",
                "mark_mitigated": True,
            }
        },
    )

    verified_by: Handle
    result: VerificationResult
    note: Note | None = None
    mark_mitigated: StrictBool = Field(
        default=False,
        description="With `recovered`: also move the incident to `mitigated`, when its status "
        "allows that move (otherwise it is left as it is). Refused with `not_recovered`",
    )


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    incident_id: uuid.UUID
    service: str
    environment: str
    deploy_id: uuid.UUID | None
    from_version: str | None
    to_version: str
    procedure: list[str]
    risks: str | None
    requested_by: str
    status: ReviewStatus
    reviewer: str | None
    decision_comment: str | None
    decided_at: datetime | None
    executed_by: str | None
    execution_outcome: ExecutionOutcome | None
    execution_note: str | None
    executed_at: datetime | None
    verified_by: str | None
    verification_result: VerificationResult | None
    verification_note: str | None
    verified_at: datetime | None
    rollback_deploy_id: uuid.UUID | None = Field(
        description="The `rolled_back` deploy recorded when the rollback was executed"
    )
    created_at: datetime
    updated_at: datetime

    @computed_field(description="The step this review takes next; empty once it is over")  # type: ignore[prop-decorator]
    @property
    def allowed_actions(self) -> list[ReviewAction]:
        action = NEXT_ACTION.get(self.status)
        return [action] if action else []

    @classmethod
    def of(cls, review: RollbackReview) -> "ReviewOut":
        return cls.model_validate(review)
