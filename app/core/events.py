"""Domain events, written to the outbox in the same transaction as the change.

`emit` is the one way a state change announces itself. The notifications domain
drains the outbox and delivers each event to its subscribers; here an event is
simply a committed row, so it exists exactly when the change it describes does.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class EventType(StrEnum):
    INCIDENT_CREATED = "incident.created"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_STATUS_CHANGED = "incident.status_changed"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"
    TIMELINE_EVENT_ADDED = "timeline.event_added"
    ROLLBACK_REVIEW_REQUESTED = "rollback_review.requested"
    ROLLBACK_REVIEW_DECIDED = "rollback_review.decided"
    ROLLBACK_REVIEW_EXECUTED = "rollback_review.executed"
    DEPLOY_RECORDED = "deploy.recorded"
    ACTION_ITEM_UPDATED = "action_item.updated"


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_events"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    type: str = Field(max_length=64)
    incident_id: uuid.UUID | None = Field(default=None, index=True)
    data: dict[str, Any] = Field(sa_type=JSONType)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


async def emit(
    session: AsyncSession,
    event_type: EventType,
    data: dict[str, Any],
    *,
    incident_id: uuid.UUID | None = None,
) -> OutboxEvent:
    """Record `event_type` with its JSON-ready `data` in the current transaction.

    The row is only added to the session: it is written with the change, at the
    next flush or at commit, batched with the other events of the request.
    """
    event = OutboxEvent(type=event_type.value, incident_id=incident_id, data=data)
    session.add(event)
    return event
