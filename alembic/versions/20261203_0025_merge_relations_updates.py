"""Merged incidents (`merged_at`, `merged_into`), the groups that follow them, relations
between incidents and stakeholder updates

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
MERGED_INTO_FK = "fk_incidents_merged_into_incidents"


def _incident_fk(table: str, column: str, **options: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["incidents.id"], name=op.f(f"fk_{table}_{column}_incidents"), **options
    )


def upgrade() -> None:
    op.add_column("incidents", sa.Column("merged_at", TIMESTAMP, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("incidents", sa.Column("merged_into", sa.Uuid(), nullable=True))
        op.create_foreign_key(MERGED_INTO_FK, "incidents", "incidents", ["merged_into"], ["id"])
    else:
        # No table rebuild (see 0018): SQLite adds a column with its reference in place.
        op.execute(
            "ALTER TABLE incidents ADD COLUMN merged_into CHAR(32) "
            f"CONSTRAINT {MERGED_INTO_FK} REFERENCES incidents (id)"
        )
    op.create_table(
        "merged_alert_groups",
        sa.Column("alert_group", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("merged_at", TIMESTAMP, nullable=False),
        _incident_fk("merged_alert_groups", "incident_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_group", name=op.f("pk_merged_alert_groups")),
    )
    op.create_index("ix_merged_alert_groups_incident_id", "merged_alert_groups", ["incident_id"])
    op.create_table(
        "incident_relations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("other_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_via", JSON, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        _incident_fk("incident_relations", "incident_id", ondelete="CASCADE"),
        _incident_fk("incident_relations", "other_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_relations")),
        sa.UniqueConstraint(
            "incident_id", "other_id", name=op.f("uq_incident_relations_incident_id_other_id")
        ),
    )
    op.create_index("ix_incident_relations_other_id", "incident_relations", ["other_id"])
    op.create_table(
        "status_updates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("severity", sa.String(8), nullable=True),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("via", JSON, nullable=True),
        sa.Column("published_at", TIMESTAMP, nullable=False),
        _incident_fk("status_updates", "incident_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_updates")),
    )
    op.create_index(
        "ix_status_updates_incident_order",
        "status_updates",
        ["incident_id", "published_at", "id"],
    )


def downgrade() -> None:
    op.drop_table("status_updates")
    op.drop_table("incident_relations")
    op.drop_table("merged_alert_groups")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(MERGED_INTO_FK, "incidents", type_="foreignkey")
        op.drop_column("incidents", "merged_into")
    else:
        op.execute("ALTER TABLE incidents DROP COLUMN merged_into")
    op.drop_column("incidents", "merged_at")
