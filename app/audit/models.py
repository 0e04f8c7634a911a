import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One write request, or one refused authentication. Append-only: triggers refuse
    UPDATE and DELETE (migration 0023); nothing in Muster changes a row once written."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_actor", "actor", "seq"),
        Index("ix_audit_events_key_id", "key_id", "seq"),
        Index("ix_audit_events_operation", "operation", "seq"),
        Index("ix_audit_events_target", "target", "seq"),
        Index("ix_audit_events_at", "at", "seq"),
    )

    # The order of writing: the audit trail's order (many requests share one `at`).
    seq: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str | None = Field(default=None, max_length=200)
    credential: str | None = Field(default=None, max_length=16)
    key_id: uuid.UUID | None = None
    key_name: str | None = Field(default=None, max_length=100)
    subject: str | None = Field(default=None, max_length=255)
    method: str = Field(max_length=10)
    route: str = Field(max_length=255)
    operation: str | None = Field(default=None, max_length=100)
    target: str | None = Field(default=None, max_length=100)
    status: int
    request_id: str | None = Field(default=None, max_length=128)
