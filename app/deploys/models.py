import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Boolean, Column, Computed, Index, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class DeploySource(StrEnum):
    API = "api"
    GITHUB = "github"
    GITLAB = "gitlab"
    MUSTER = "muster"  # Muster's own records (executed rollbacks): no sender can write them


class DeployKind(StrEnum):
    DEPLOY = "deploy"
    RELEASE = "release"
    ROLLBACK = "rollback"


class DeployStatus(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class Deploy(SQLModel, table=True):
    __tablename__ = "deploys"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(
            "ix_deploys_service_environment_effective_at", "service", "environment", "effective_at"
        ),
    )
    # Fetch `effective_at` (computed by the database) back with every INSERT/UPDATE.
    __mapper_args__: ClassVar[dict[str, Any]] = {"eager_defaults": True}

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    source: str = Field(max_length=16, description="api | github | gitlab | muster")
    external_id: str | None = Field(
        default=None, max_length=200, description="The sender's id; unique per source"
    )
    kind: str = Field(max_length=16, description="deploy | release | rollback")
    service: str = Field(max_length=100)
    environment: str = Field(max_length=100)
    version: str | None = Field(default=None, max_length=200)
    commit_sha: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16, description="started | succeeded | failed | rolled_back")
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the deploy last "happened": what lists sort and filter on. Computed and stored by
    # the database so that it can be indexed and never disagrees with the two columns.
    effective_at: datetime | None = Field(
        default=None,
        sa_column=Column(
            UTCDateTime,
            Computed("coalesce(finished_at, started_at)", persisted=True),
            nullable=False,
            index=True,
        ),
    )
    url: str | None = Field(default=None, max_length=2048)
    actor: str | None = Field(default=None, max_length=200)
    reported_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        description="The sender's own time of the latest event applied (GitHub)",
    )
    reported_by: str | None = Field(
        default=None, max_length=64, description="The API key that reported it (source `api`)"
    )
    committed_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="When the deployed change was committed"
    )
    # The release gate, checked when the deploy arrived: the prevention measures that had
    # not reached its service then (`MissingMeasure` each). Kept as they were.
    # No default in Python: rows written without it (older code, migration tests) get the
    # database's `false`.
    unprotected: bool = Field(
        default=False,
        sa_column=Column(Boolean, server_default=false(), nullable=False),
    )
    missing_measures: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
