import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime

ALL_EVENTS = "*"


class Format(StrEnum):
    STANDARD_WEBHOOKS = "standard-webhooks"
    SLACK = "slack"
    PAGERDUTY = "pagerduty"  # SRE targets only: it needs a routing key
    MSTEAMS = "msteams"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (`next_attempt_at`)
    DELIVERING = "delivering"  # claimed by a dispatcher until `next_attempt_at` (its lease)
    DELIVERED = "delivered"
    FAILED = "failed"  # the receiver answered 410 Gone; redeliver to try again
    DEAD = "dead"  # every attempt failed; redeliver to try again


# Rows a dispatcher may claim: waiting ones, and claimed ones whose lease ran out.
CLAIMABLE = (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING)
_CLAIMABLE_SQL = text("status IN ('pending', 'delivering')")


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_created_at_id", "created_at", "id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    url: str = Field(max_length=2048)
    events: list[str] = Field(sa_type=JSONType)
    format: Format = Field(default=Format.STANDARD_WEBHOOKS, sa_type=String(32))
    secret: str = Field(max_length=200, description="`whsec_…`; never returned after creation")
    active: bool = True
    description: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=500)

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


class Delivery(SQLModel, table=True):
    """One event on its way to one target; its `id` is the `webhook-id` of every attempt."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # Fan-out is idempotent: one delivery per event and target, whoever fans out.
        UniqueConstraint("event_id", "target_key"),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            sqlite_where=_CLAIMABLE_SQL,
            postgresql_where=_CLAIMABLE_SQL,
        ),
        Index("ix_deliveries_subscription_id_created_at", "subscription_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="outbox_events.id", ondelete="CASCADE")
    event_type: str = Field(max_length=64)
    subscription_id: uuid.UUID | None = Field(
        default=None, foreign_key="subscriptions.id", ondelete="CASCADE"
    )
    target_key: str = Field(
        max_length=80, description="`subscription:<id>`, or `sre:<hash of the URL>`"
    )
    target_url: str = Field(max_length=2048)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=String(16))
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=1000)
    response_code: int | None = None
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration_ms: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
