import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.actors import Via
from app.core.text import NOT_BLANK
from app.incidents.state import Severity, Status
from app.status_updates.models import Audience, StatusUpdate

Message = Annotated[str, StringConstraints(min_length=1, max_length=10_000), NOT_BLANK]
# The statuses an update may move an incident to: declining and merging have their own ways.
UpdateStatus = Literal["acknowledged", "investigating", "mitigated", "resolved", "closed"]


class UpdateCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "message": "Checkout errors are down to 2% after the rollback of checkout-api "
                "v2.14. We are watching error rates; next update in 30 minutes.",
                "audience": "stakeholders",
                "status": "mitigated",
            }
        },
    )

    message: Message = Field(description="What is happening, what is being done, what next")
    audience: Audience = Field(description="Who it is written for")
    status: UpdateStatus | None = Field(
        default=None, description="Move the incident to this status with the update"
    )
    severity: Severity | None = Field(
        default=None, description="Change the incident's severity with the update"
    )


class UpdateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    incident_id: uuid.UUID
    message: str
    audience: Audience
    status: Status | None = Field(description="The status the update moved the incident to")
    severity: Severity | None = Field(description="The severity the update set")
    author: str
    via: Via | None = Field(description="The author's credential")
    published_at: datetime

    @classmethod
    def of(cls, update: StatusUpdate) -> "UpdateOut":
        return cls.model_validate(update)
