"""The event of an escalation level firing."""

import uuid
from typing import ClassVar

from pydantic import Field

from app.core.events import DomainEvent, EventType
from app.incidents.schemas import IncidentOut


class IncidentEscalated(DomainEvent):
    """No SRE joined in time: an escalation level was notified. The level's targets
    receive it (in their format, with `links.join`), and so do subscribers."""

    type: ClassVar[EventType] = EventType.INCIDENT_ESCALATED

    incident: IncidentOut
    level: int = Field(ge=0, description="The level notified; 0 is the first")
    waited_seconds: float = Field(
        description="How long the incident had waited for an SRE: since escalation started"
    )
    final: bool = Field(description="True when this is the policy's last level")

    def incident_id(self) -> uuid.UUID:
        return self.incident.id
