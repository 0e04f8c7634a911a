"""Learning: retrospectives, contributing factors, action items in trackers, the release gate

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03

The retrospective people write (one per incident, its published revisions frozen apart),
contributing factors by category, action items' tracker link and the factor they
address, and on deploys the commit time (lead time for changes) and the release gate's
finding when the deploy arrived.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "retrospectives",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.Text(), nullable=True)
            for name in (
                "summary",
                "impact",
                "what_went_well",
                "what_went_wrong",
                "where_we_were_lucky",
                "notes",
            )
        ),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_via", JSON, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_retrospectives_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_retrospectives")),
    )
    op.create_table(
        "retrospective_revisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("sections", JSON, nullable=False),
        sa.Column("published_by", sa.String(100), nullable=False),
        sa.Column("published_via", JSON, nullable=True),
        sa.Column("published_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_retrospective_revisions_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrospective_revisions")),
        sa.UniqueConstraint(
            "incident_id", "revision", name=op.f("uq_retrospective_revisions_incident_id_revision")
        ),
    )
    op.create_table(
        "contributing_factors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("services", JSON, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_via", JSON, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_contributing_factors_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributing_factors")),
    )
    op.create_index(
        "ix_contributing_factors_incident_order",
        "contributing_factors",
        ["incident_id", "created_at", "id"],
    )
    op.create_index("ix_contributing_factors_category", "contributing_factors", ["category"])
    with op.batch_alter_table("action_items") as batch:
        batch.add_column(sa.Column("tracker_url", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("external_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("addresses", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_action_items_addresses_contributing_factors"),
            "contributing_factors",
            ["addresses"],
            ["id"],
            ondelete="SET NULL",
        )
    # Not in batch mode: SQLite cannot copy the generated `effective_at` into a new table;
    # it adds plain columns in place.
    op.add_column("deploys", sa.Column("committed_at", TIMESTAMP, nullable=True))
    op.add_column(
        "deploys",
        sa.Column("unprotected", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("deploys", sa.Column("missing_measures", JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("deploys", "missing_measures")
    op.drop_column("deploys", "unprotected")
    op.drop_column("deploys", "committed_at")
    with op.batch_alter_table("action_items") as batch:
        batch.drop_constraint(
            op.f("fk_action_items_addresses_contributing_factors"), type_="foreignkey"
        )
        batch.drop_column("addresses")
        batch.drop_column("external_id")
        batch.drop_column("tracker_url")
    op.drop_table("contributing_factors")
    op.drop_table("retrospective_revisions")
    op.drop_table("retrospectives")
