"""Rollback reviews, and incidents.caused_by_deploy_id as a real foreign key

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
CAUSE_FK = "fk_incidents_caused_by_deploy_id_deploys"


def upgrade() -> None:
    op.create_table(
        "rollback_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("deploy_id", sa.Uuid(), nullable=True),
        sa.Column("from_version", sa.String(200), nullable=True),
        sa.Column("to_version", sa.String(200), nullable=False),
        sa.Column("procedure", JSON, nullable=False),
        sa.Column("risks", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("executed_by", sa.String(100), nullable=True),
        sa.Column("execution_outcome", sa.String(16), nullable=True),
        sa.Column("execution_note", sa.Text(), nullable=True),
        sa.Column("executed_at", TIMESTAMP, nullable=True),
        sa.Column("verified_by", sa.String(100), nullable=True),
        sa.Column("verification_result", sa.String(16), nullable=True),
        sa.Column("verification_note", sa.Text(), nullable=True),
        sa.Column("verified_at", TIMESTAMP, nullable=True),
        sa.Column("rollback_deploy_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_rollback_reviews_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deploy_id"],
            ["deploys.id"],
            name=op.f("fk_rollback_reviews_deploy_id_deploys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rollback_deploy_id"],
            ["deploys.id"],
            name=op.f("fk_rollback_reviews_rollback_deploy_id_deploys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollback_reviews")),
    )
    op.create_index(
        "ix_rollback_reviews_incident_order",
        "rollback_reviews",
        ["incident_id", "created_at", "id"],
    )

    # Until now the cause was not checked: forget causes that name no deploy, then enforce.
    op.execute(
        "UPDATE incidents SET caused_by_deploy_id = NULL WHERE caused_by_deploy_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM deploys WHERE deploys.id = incidents.caused_by_deploy_id)"
    )
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.create_foreign_key(
            CAUSE_FK, "deploys", ["caused_by_deploy_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.drop_constraint(CAUSE_FK, type_="foreignkey")
    op.drop_table("rollback_reviews")
