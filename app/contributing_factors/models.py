import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class ContributingFactor(SQLModel, table=True):
    """Something that made an incident possible or worse, in one category of the taxonomy."""

    __tablename__ = "contributing_factors"
    __table_args__ = (
        Index("ix_contributing_factors_incident_order", "incident_id", "created_at", "id"),
        Index("ix_contributing_factors_category", "category"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    category: str = Field(sa_type=String(64))
    description: str = Field(sa_type=Text)
    services: list[str] = Field(default_factory=list, sa_type=JSONType)
    created_by: str = Field(max_length=100)
    created_via: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
