import uuid
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class Engagement(SQLModel, table=True):
    """How an incident's escalation goes: started, levels fired, stopped; when SRE engaged.

    A row exists once escalation started (the policy covers the incident) or an SRE
    engaged, whichever came first.
    """

    __tablename__ = "engagements"

    incident_id: uuid.UUID = Field(primary_key=True, foreign_key="incidents.id", ondelete="CASCADE")
    policy: str | None = Field(
        default=None,
        max_length=100,
        description="'' for the default levels, a service's name for its own; None: not escalated",
    )
    # The levels' after_minutes, fixed when escalation started: a restart with another
    # policy changes where the next levels go, not when.
    schedule: list[float] = Field(default_factory=list, sa_type=JSONType)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    level: int | None = Field(default=None, description="The last level fired")
    next_escalation_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stop_reason: str | None = Field(default=None, sa_type=String(32))
    sre_engaged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
