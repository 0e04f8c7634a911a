import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime

# The sections people write, in the order a retrospective reads.
SECTIONS = (
    "summary",
    "impact",
    "what_went_well",
    "what_went_wrong",
    "where_we_were_lucky",
    "notes",
)


class RetrospectiveState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


class Retrospective(SQLModel, table=True):
    """The retrospective people write about one incident: its current revision.

    `version` counts every change (the `ETag`); `revision` counts publications: a change
    after publishing starts revision n + 1 as a draft, and revision n stays, frozen, in
    `retrospective_revisions`.
    """

    __tablename__ = "retrospectives"

    incident_id: uuid.UUID = Field(primary_key=True, foreign_key="incidents.id", ondelete="CASCADE")
    state: RetrospectiveState = Field(default=RetrospectiveState.DRAFT, sa_type=String(16))
    revision: int = Field(default=1)
    version: int = Field(default=1)
    summary: str | None = Field(default=None, sa_type=Text)
    impact: str | None = Field(default=None, sa_type=Text)
    what_went_well: str | None = Field(default=None, sa_type=Text)
    what_went_wrong: str | None = Field(default=None, sa_type=Text)
    where_we_were_lucky: str | None = Field(default=None, sa_type=Text)
    notes: str | None = Field(default=None, sa_type=Text)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=100)
    updated_via: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RetrospectiveRevision(SQLModel, table=True):
    """A published revision of a retrospective, as it was published: never changed."""

    __tablename__ = "retrospective_revisions"
    __table_args__ = (UniqueConstraint("incident_id", "revision"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    revision: int
    sections: dict[str, Any] = Field(sa_type=JSONType)
    published_by: str = Field(max_length=100)
    published_via: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
