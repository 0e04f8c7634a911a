"""Release history (deploys) and inbound webhook deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deploys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("version", sa.String(200), nullable=True),
        sa.Column("commit_sha", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column(
            "effective_at",
            TIMESTAMP,
            sa.Computed("coalesce(finished_at, started_at)", persisted=True),
            nullable=False,
        ),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deploys")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_deploys_source_external_id")),
    )
    op.create_index(op.f("ix_deploys_effective_at"), "deploys", ["effective_at"])
    op.create_index(
        "ix_deploys_service_environment_effective_at",
        "deploys",
        ["service", "environment", "effective_at"],
    )
    op.create_table(
        "inbound_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_deliveries")),
        sa.UniqueConstraint(
            "source", "delivery_id", name=op.f("uq_inbound_deliveries_source_delivery_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("inbound_deliveries")
    op.drop_table("deploys")
