import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.deploys.schemas import DeployCreate


class WebhookStatus(StrEnum):
    RECORDED = "recorded"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    PONG = "pong"


class WebhookResult(BaseModel):
    """What Muster did with a webhook delivery."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "status": "recorded",
                "deploy_id": "0b8f1c52-5c7e-4f0e-9a43-6f1d2f1e9c11",
                "deploy_ids": ["0b8f1c52-5c7e-4f0e-9a43-6f1d2f1e9c11"],
                "detail": None,
            }
        }
    )

    status: WebhookStatus = Field(
        description="`recorded`: a new deploy; `updated`: an existing deploy (same sender id) "
        "was updated; `duplicate`: this delivery was already processed, nothing changed; "
        "`ignored`: not an event that records a deploy, or one older than what is recorded "
        "for its deploy (a replay); `pong`: a ping was answered"
    )
    deploy_id: uuid.UUID | None = Field(
        default=None, description="The deploy recorded or updated (the first, if several)"
    )
    deploy_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description="Every deploy recorded or updated; a GitLab pipeline may deploy to "
        "several environments",
    )
    detail: str | None = Field(default=None, description="Why a delivery was ignored")


class ReportedDeploy(DeployCreate):
    """A deploy a sender reports, with the sender's own time of the event."""

    reported_at: datetime | None = None
