import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime
from app.incidents.state import Severity, Status


class Audience(StrEnum):
    """Who an update is written for."""

    INTERNAL = "internal"
    STAKEHOLDERS = "stakeholders"
    PUBLIC = "public"


class StatusUpdate(SQLModel, table=True):
    """One published update on an incident: what is happening, what is being done."""

    __tablename__ = "status_updates"
    __table_args__ = (
        Index("ix_status_updates_incident_order", "incident_id", "published_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    message: str = Field(sa_type=Text)
    audience: Audience = Field(sa_type=String(16))
    status: Status | None = Field(default=None, sa_type=String(16))
    severity: Severity | None = Field(default=None, sa_type=String(8))
    author: str = Field(max_length=100)
    via: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
