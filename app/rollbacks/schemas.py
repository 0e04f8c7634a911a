import uuid
from datetime import datetime
from typing import Annotated

from fastapi.openapi.models import Example
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    computed_field,
)

from app.core.actors import Via
from app.core.api import API_PREFIX
from app.core.handles import Handle
from app.core.text import NOT_BLANK, TRIMMED
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
            # No `deploy_id`: pick one from the incident's suspect deploys when it applies.
            "example": {
                "service": "checkout-api",
                "environment": "production",
                "to_version": "v2.13.0",
                "procedure": ["Roll checkout-api back to v2.13.0", "Watch the error rate"],
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
    requested_by: Handle | None = Field(
        default=None,
        description="Who proposes it (a person; may not approve it). Default and only "
        "allowed value: the actor, except for an `act-as` key",
    )


DECISION_EXAMPLES: dict[str, Example] = {
    "approve": {"summary": "Approve", "value": {"decision": "approve"}},
    "reject": {
        "summary": "Reject",
        "value": {"decision": "reject", "comment": "Roll forward instead: the fix is ready"},
    },
}


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reviewer: Handle | None = Field(
        default=None,
        description="Who decides: the actor (the default), a person other than the requester",
    )
    comment: Note | None = None


class ExecutionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"outcome": "succeeded"}},
    )

    executed_by: Handle | None = Field(default=None, description="Who ran it; default: the actor")
    outcome: ExecutionOutcome = Field(
        description="`succeeded` records a `rolled_back` deploy; `failed` ends the review"
    )
    note: Note | None = None


class VerificationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"result": "recovered", "mark_mitigated": True}},
    )

    verified_by: Handle | None = Field(
        default=None, description="Who checked it; default: the actor"
    )
    result: VerificationResult
    note: Note | None = None
    mark_mitigated: StrictBool = Field(
        default=False,
        description="With `recovered`: also move the incident to `mitigated`, when its status "
        "allows that move (otherwise it is left as it is). Refused with `not_recovered`",
    )


class ReviewVia(BaseModel):
    """The credential each person of a review acted with, by the field that names them."""

    requested_by: Via | None = None
    reviewer: Via | None = None
    executed_by: Via | None = None
    verified_by: Via | None = None


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
    via: Annotated[ReviewVia, BeforeValidator(lambda stored: stored or {})] = Field(
        description="The credential behind each person field (null: not recorded)"
    )
    created_at: datetime
    updated_at: datetime

    @computed_field(description="The step this review takes next; empty once it is over")  # type: ignore[prop-decorator]
    @property
    def allowed_actions(self) -> list[ReviewAction]:
        action = NEXT_ACTION.get(self.status)
        return [action] if action else []

    @computed_field(  # type: ignore[prop-decorator]
        description="`self`, its `incident`, and the URL of the step it allows next (POST), "
        "named as in `allowed_actions`"
    )
    @property
    def links(self) -> dict[str, str]:
        incident = f"{API_PREFIX}/incidents/{self.incident_id}"
        own = f"{incident}/rollback-reviews/{self.id}"
        steps = {action.value: f"{own}/{action.value}" for action in self.allowed_actions}
        return {"self": own, "incident": incident, **steps}

    @classmethod
    def of(cls, review: RollbackReview) -> "ReviewOut":
        return cls.model_validate(review)


class WorkedBefore(BaseModel):
    """The last rollback of the same service that was executed and verified as recovered."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="That review")
    incident_id: uuid.UUID
    from_version: str | None
    to_version: str
    procedure: list[str] = Field(description="The steps that worked")
    executed_by: str | None
    verified_at: datetime | None


class ReviewDetail(ReviewOut):
    """A review as it is proposed: with what worked last time for its service."""

    worked_before: WorkedBefore | None = Field(
        description="The procedure that last worked for this service (another review); "
        "null when none did"
    )

    @classmethod
    def with_history(cls, review: RollbackReview, before: RollbackReview | None) -> "ReviewDetail":
        return cls.model_validate(
            ReviewOut.of(review).model_dump()
            | {"worked_before": WorkedBefore.model_validate(before) if before else None}
        )
