import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(SQLModel, table=True):
    """One alert (by Alertmanager fingerprint) as part of one incident."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("incident_id", "fingerprint"),
        Index("ix_alerts_fingerprint", "fingerprint"),
        # (name, incident): recurrence probes one entry per candidate incident
        Index("ix_alerts_alertname_incident", "alertname", "incident_id"),
        Index("ix_alerts_incident_order", "incident_id", "first_received_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    fingerprint: str = Field(max_length=64)
    alertname: str | None = Field(default=None, max_length=200)
    status: AlertStatus = Field(sa_type=String(16))
    labels: dict[str, str] = Field(sa_type=JSONType)
    annotations: dict[str, str] = Field(sa_type=JSONType)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    generator_url: str | None = Field(default=None, sa_type=Text)
    first_received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    received_count: int = 1


class AlertNotification(SQLModel, table=True):
    """Each distinct Alertmanager notification, once: retries and HA twins are duplicates."""

    __tablename__ = "alert_notifications"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    digest: str = Field(max_length=64, unique=True, description="SHA-256 of what makes it distinct")
    group_key: str = Field(sa_type=Text)
    status: str = Field(max_length=16)
    alert_count: int
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MergedAlertGroup(SQLModel, table=True):
    """An Alertmanager group whose incident was merged into another: the group's next
    notifications land on that survivor while it is open."""

    __tablename__ = "merged_alert_groups"

    alert_group: str = Field(primary_key=True, max_length=64)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE", index=True)
    merged_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
