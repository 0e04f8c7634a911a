"""Declined incidents (when, why) and the GIN index behind `label=` filters (PostgreSQL)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.add_column(sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decline_reason", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("decline_note", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_incidents_labels", "incidents", ["labels"], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_incidents_labels", table_name="incidents")
    # No table rebuild: it would drop the expression index on `labels ->> 'alertname'`,
    # which SQLite cannot reflect. SQLite drops a column in place (3.35 and later).
    with op.batch_alter_table("incidents", recreate="never") as batch_op:
        batch_op.drop_column("decline_note")
        batch_op.drop_column("decline_reason")
        batch_op.drop_column("declined_at")
