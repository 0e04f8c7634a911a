from datetime import datetime

from pydantic import BaseModel, Field

from app.engagement.models import Engagement
from app.incidents.schemas import IncidentOut


class EngagementOut(BaseModel):
    """Whether SRE is on the incident, and how far escalation went."""

    sre_engaged_at: datetime | None = Field(
        description="When the first person took the `sre` role on the incident"
    )
    escalation_level: int | None = Field(
        description="The last escalation level notified (0 is the first); null: none yet"
    )
    next_escalation_at: datetime | None = Field(
        description="When the next level is due; null when escalation stopped or is done"
    )

    @classmethod
    def of(cls, engagement: Engagement | None) -> "EngagementOut":
        if engagement is None:
            return cls(sre_engaged_at=None, escalation_level=None, next_escalation_at=None)
        return cls(
            sre_engaged_at=engagement.sre_engaged_at,
            escalation_level=engagement.level,
            next_escalation_at=engagement.next_escalation_at,
        )


class IncidentWithEngagement(IncidentOut):
    """An incident as `GET /incidents/{id}` shows it: with its SRE engagement."""

    engagement: EngagementOut
