import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import UTCDateTime


class ActionKind(StrEnum):
    PREVENT = "prevent"
    DETECT = "detect"
    MITIGATE = "mitigate"
    PROCESS = "process"


class ActionStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"


# Still to be done: these count as open (and can be overdue); the others are finished.
UNFINISHED = frozenset({ActionStatus.OPEN, ActionStatus.IN_PROGRESS})


class RolloutStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"


class ActionItem(SQLModel, table=True):
    """A measure learned from an incident, e.g. to prevent it from happening again."""

    __tablename__ = "action_items"
    __table_args__ = (
        Index("ix_action_items_incident_order", "incident_id", "created_at", "id"),
        Index("ix_action_items_created_at_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, sa_type=Text)
    kind: ActionKind = Field(sa_type=String(16))
    owner: str | None = Field(default=None, max_length=100)
    due: date | None = Field(default=None, sa_type=Date)
    status: ActionStatus = Field(default=ActionStatus.OPEN, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tracker_url: str | None = Field(default=None, max_length=2048)
    external_id: str | None = Field(default=None, max_length=200)
    addresses: uuid.UUID | None = Field(
        default=None,
        foreign_key="contributing_factors.id",
        ondelete="SET NULL",
        description="The contributing factor this measure addresses",
    )


class ActionItemRollout(SQLModel, table=True):
    """Where an action item must be rolled out: one row per service, each with its status."""

    __tablename__ = "action_item_rollouts"
    __table_args__ = (
        UniqueConstraint("action_item_id", "service"),
        Index("ix_action_item_rollouts_service_status", "service", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    action_item_id: uuid.UUID = Field(foreign_key="action_items.id", ondelete="CASCADE")
    service: str = Field(max_length=100)
    status: RolloutStatus = Field(default=RolloutStatus.PENDING, sa_type=String(16))
    note: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
