import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, text
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class Role(StrEnum):
    COMMANDER = "commander"
    SRE = "sre"
    DEVELOPER = "developer"
    COORDINATOR = "coordinator"
    COMMUNICATIONS = "communications"
    OBSERVER = "observer"


class Participant(SQLModel, table=True):
    """One stint of a person on an incident; leaving ends it, rejoining starts another."""

    __tablename__ = "participants"
    __table_args__ = (
        # At most one active stint per handle and incident, settled by the database.
        Index(
            "uq_participants_active_handle",
            "incident_id",
            "handle",
            unique=True,
            sqlite_where=text("left_at IS NULL"),
            postgresql_where=text("left_at IS NULL"),
        ),
        Index("ix_participants_incident_id_joined_at", "incident_id", "joined_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    handle: str = Field(max_length=100)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    team: str | None = Field(default=None, max_length=100)
    role: Role = Field(sa_type=String(16))
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who put them on the incident (themselves, or someone else), with the credential.
    added_by: str | None = Field(default=None, max_length=100)
    via: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
