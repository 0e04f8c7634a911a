import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    FetchedValue,
    Index,
    String,
    Text,
    UnaryExpression,
    UniqueConstraint,
    bindparam,
    text,
)
from sqlmodel import Field, SQLModel, col, select

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime, postgresql_only
from app.core.sql import unindexed
from app.incidents.state import OPEN, DeclineReason, Severity, Status

OPEN_PREDICATE = "alert_group IS NOT NULL AND status IN ({})".format(
    ", ".join(f"'{status}'" for status in sorted(OPEN))
)


# PostgreSQL numbers incidents from this sequence (created by the migration).
NUMBER_SEQUENCE = "incident_number_seq"


def reference_of(number: int) -> str:
    """How people name an incident: `INC-42`."""
    return f"INC-{number}"


class Counter(SQLModel, table=True):
    """Human numbers on SQLite: one row per sequence, bumped inside the creating transaction."""

    __tablename__ = "counters"

    name: str = Field(primary_key=True, max_length=32)
    value: int


class Incident(SQLModel, table=True):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_created_at_id", "created_at", "id"),
        Index("ix_incidents_status_created_at", "status", "created_at"),
        Index("ix_incidents_alert_group", "alert_group"),
        # `service=` filters and recurrence by shared service (`?|`): PostgreSQL only.
        postgresql_only(Index("ix_incidents_services", "services", postgresql_using="gin")),
        # `q=` searches (ILIKE '%…%') by trigram: PostgreSQL only, where pg_trgm exists.
        *(
            postgresql_only(
                Index(
                    f"ix_incidents_{column}_trgm",
                    column,
                    postgresql_using="gin",
                    postgresql_ops={column: "gin_trgm_ops"},
                )
            )
            for column in ("title", "summary")
        ),
        # `label=` filters (`@>` for key:value, `?&` for presence): PostgreSQL only.
        postgresql_only(Index("ix_incidents_labels", "labels", postgresql_using="gin")),
        # Recurrence matches API-opened incidents by their `alertname` label.
        Index("ix_incidents_label_alertname", text("(labels ->> 'alertname')")),
        # One open incident per Alertmanager group: concurrent notifications cannot open two.
        Index(
            "uq_incidents_open_alert_group",
            "alert_group",
            unique=True,
            sqlite_where=text(OPEN_PREDICATE),
            postgresql_where=text(OPEN_PREDICATE),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # PostgreSQL: the sequence is the column's default, and the INSERT returns it
    # (`eager_defaults`); SQLite: set by `_next_number`.
    number: int = Field(unique=True, sa_column_kwargs={"server_default": FetchedValue()})
    title: str = Field(max_length=300)
    summary: str | None = Field(default=None, sa_type=Text)
    severity: Severity = Field(sa_type=String(8))
    status: Status = Field(default=Status.TRIGGERED, sa_type=String(16))
    services: list[str] = Field(default_factory=list, sa_type=JSONType)
    labels: dict[str, str] = Field(default_factory=dict, sa_type=JSONType)
    commander: str | None = Field(default=None, max_length=100)
    caused_by_deploy_id: uuid.UUID | None = Field(
        default=None, foreign_key="deploys.id", ondelete="SET NULL"
    )
    source: str = Field(default="api", max_length=32)
    alert_group: str | None = Field(
        default=None, max_length=64, description="SHA-256 of the Alertmanager group key"
    )
    recurrence_of: uuid.UUID | None = Field(default=None, foreign_key="incidents.id")
    version: int = Field(default=1, sa_column_kwargs={"server_default": text("1")})

    started_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    investigating_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    mitigated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    declined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decline_reason: DeclineReason | None = Field(default=None, sa_type=String(16))
    decline_note: str | None = Field(default=None, sa_type=Text)
    merged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    merged_into: uuid.UUID | None = Field(default=None, foreign_key="incidents.id")

    __mapper_args__ = {"eager_defaults": True}

    @property
    def reference(self) -> str:
        return reference_of(self.number)


class RelationKind(StrEnum):
    """How one incident stands to another, read from the first: "A causes B"."""

    RELATED = "related"
    CAUSED_BY = "caused_by"
    CAUSES = "causes"

    @property
    def mirrored(self) -> "RelationKind":
        """The same relation read from the other incident."""
        return {
            RelationKind.CAUSED_BY: RelationKind.CAUSES,
            RelationKind.CAUSES: RelationKind.CAUSED_BY,
        }.get(self, self)


class IncidentRelation(SQLModel, table=True):
    """One side of a relation between two incidents: each relation is two rows, one
    read from each incident, written and deleted together. One relation per pair."""

    __tablename__ = "incident_relations"
    __table_args__ = (UniqueConstraint("incident_id", "other_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE")
    other_id: uuid.UUID = Field(foreign_key="incidents.id", ondelete="CASCADE", index=True)
    kind: RelationKind = Field(sa_type=String(16))
    created_by: str = Field(max_length=100)
    created_via: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# An incident by the key it is named by (see `incidents.lookup.key_of`), the value
# bound at execution as `key`.
KEYED = {
    "number": col(Incident.number) == bindparam("key"),
    "id": col(Incident.id) == bindparam("key"),
}
# Only its id, by the same keys: for reads that need nothing more.
ID_KEYED = {key: select(col(Incident.id)).where(where) for key, where in KEYED.items()}


def newest_match_first() -> UnaryExpression[int]:
    """Newest incident first, for a look-up that keeps only its first match.

    By `unindexed(number)`: the look-up starts from its few matching rows rather than
    walking the incidents backwards. Numbers grow with creation: this is creation order.
    """
    return unindexed(col(Incident.number)).desc()
