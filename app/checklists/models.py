import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import JSONType, UTCDateTime


class ChecklistItem(SQLModel, table=True):
    __tablename__ = "checklist_items"
    __table_args__ = (UniqueConstraint("incident_id", "key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    key: str = Field(max_length=64)
    label: str = Field(max_length=200)
    position: int
    done: bool = False
    note: str | None = Field(default=None, max_length=2000)
    done_by: str | None = Field(default=None, max_length=100)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_via: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
