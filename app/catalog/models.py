"""The service catalog: one row per service name, and the links an incident carries."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, SmallInteger, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class Service(SQLModel, table=True):
    """A service by the name alerts, deploys and incidents use; unowned until described."""

    __tablename__ = "services"
    __table_args__ = (
        # `?unowned=true` (owner_team IS NULL) and `?owner_team=`, in name order.
        Index("ix_services_owner_team_name", "owner_team", "name"),
    )

    # A plain String: its Python type (str) is what the list's keyset cursor decodes.
    name: str = Field(primary_key=True, sa_type=String(100))
    display_name: str | None = Field(default=None, max_length=200)
    owner_team: str | None = Field(default=None, max_length=100)
    tier: int | None = Field(default=None, sa_type=SmallInteger)
    runbook_url: str | None = Field(default=None, max_length=2048)
    links: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    depends_on: list[str] = Field(default_factory=list, sa_type=JSONType)
    escalation: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    checklist: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    source: str = Field(
        max_length=16, description="seen (first named by an incident or deploy) | api | import"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IncidentLink(SQLModel, table=True):
    """A runbook, dashboard or other page worth opening during an incident."""

    __tablename__ = "incident_links"
    __table_args__ = (UniqueConstraint("incident_id", "url"),)

    # Numbered by the database in the order links are added: the order they are listed in.
    id: int | None = Field(default=None, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    title: str = Field(max_length=200)
    url: str = Field(max_length=2048)
    kind: str = Field(max_length=16)
    source: str = Field(
        max_length=120, description="`catalog:<service>`, `alertmanager` or the person who added it"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
