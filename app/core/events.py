"""Domain events, written to the outbox in the same transaction as the change.

`emit` is the one way a state change announces itself. Each event type is one
`DomainEvent` model, defined by the domain that emits it (`app/*/events.py`); the
OpenAPI `webhooks` section is generated from those models. The notifications domain
drains the outbox and delivers each event to its subscribers; here an event is
simply a committed row, so it exists exactly when the change it describes does.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, FetchedValue, Index, Integer, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime, add_row, mark_outbox_written, table_of


class EventType(StrEnum):
    INCIDENT_CREATED = "incident.created"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_STATUS_CHANGED = "incident.status_changed"
    INCIDENT_ESCALATED = "incident.escalated"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"
    TIMELINE_EVENT_ADDED = "timeline.event_added"
    TIMELINE_EVENT_UPDATED = "timeline.event_updated"
    TIMELINE_EVENT_DELETED = "timeline.event_deleted"
    ROLLBACK_REVIEW_REQUESTED = "rollback_review.requested"
    ROLLBACK_REVIEW_DECIDED = "rollback_review.decided"
    ROLLBACK_REVIEW_EXECUTED = "rollback_review.executed"
    DEPLOY_RECORDED = "deploy.recorded"
    ACTION_ITEM_UPDATED = "action_item.updated"
    ACTION_ITEM_OVERDUE = "action_item.overdue"
    DEPLOY_UNPROTECTED = "deploy.unprotected"
    POSTMORTEM_PUBLISHED = "postmortem.published"
    INCIDENT_MERGED = "incident.merged"
    STATUS_UPDATE_PUBLISHED = "status_update.published"
    INCIDENT_UPDATE_DUE = "incident.update_due"


class OutboxEvent(SQLModel, table=True):
    """One domain event. The API and receivers know it by `id`.

    `(txid, seq)` orders the outbox for readers that resume (the event stream): `seq`
    is assigned at insert and `txid` is the inserting transaction's id on PostgreSQL
    (0 on SQLite, where writers are serial and `seq` alone follows commit order).
    `fanned_out_at` is set once the dispatcher has turned the event into deliveries.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_stream_order", "txid", "seq"),
        Index(
            "ix_outbox_events_not_fanned_out",
            "seq",
            sqlite_where=text("fanned_out_at IS NULL"),
            postgresql_where=text("fanned_out_at IS NULL"),
        ),
    )

    seq: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=BigInteger().with_variant(Integer(), "sqlite"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    type: str = Field(max_length=64)
    incident_id: uuid.UUID | None = Field(default=None, index=True)
    data: dict[str, Any] = Field(sa_type=JSONType)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Filled by the database (the column default differs per backend; see migration 0009).
    txid: int | None = Field(
        default=None,
        sa_type=BigInteger,
        nullable=False,
        sa_column_kwargs={"server_default": FetchedValue()},
    )
    fanned_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


_OUTBOX = table_of(OutboxEvent)


class DomainEvent(BaseModel):
    """The `data` of one event type; a subclass names its `type` and documents it."""

    model_config = ConfigDict(populate_by_name=True)

    type: ClassVar[EventType]

    def incident_id(self) -> uuid.UUID | None:
        """The incident the event is about, if any (the outbox indexes it)."""
        return None


def emit(session: AsyncSession, event: DomainEvent) -> None:
    """Record `event` in the current transaction.

    The row is queued on the session: it is written with the change, at the next
    flush or at commit, batched with the other events of the request.
    """
    data = event.model_dump(mode="json", by_alias=True)
    record_event(session, event.type, data, incident_id=event.incident_id())


def record_event(
    session: AsyncSession,
    event_type: EventType,
    data: dict[str, Any],
    *,
    incident_id: uuid.UUID | None = None,
) -> None:
    """Queue an outbox row of `event_type` with JSON-ready `data` (`emit` is the way in)."""
    mark_outbox_written(session)  # its commit wakes the dispatchers
    add_row(
        session,
        _OUTBOX,
        {
            "id": uuid.uuid4(),
            "type": event_type.value,
            "incident_id": incident_id,
            "data": data,
            "occurred_at": utcnow(),
            "fanned_out_at": None,
        },
    )
