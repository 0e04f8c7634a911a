"""The events of stakeholder updates: one published, and one falling due."""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from app.core.events import EventType
from app.incidents.events import OnIncident
from app.status_updates.schemas import UpdateOut


class StatusUpdatePublished(OnIncident):
    """An update on an incident was published for its audience (a status page or a chat
    channel subscribed to this event shows it)."""

    type: ClassVar[EventType] = EventType.STATUS_UPDATE_PUBLISHED

    update: UpdateOut


class IncidentUpdateDue(OnIncident):
    """An open incident's last update is older than its severity's cadence
    (`MUSTER_UPDATE_CADENCE`): once per missed period."""

    type: ClassVar[EventType] = EventType.INCIDENT_UPDATE_DUE

    last_update_at: datetime | None = Field(description="The last update; null when none yet")
    cadence_minutes: float
    due_since: datetime = Field(description="When the missed period ended")
