"""Idempotency records: what the response created, and an index to purge by age

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

A subscription's creation response holds its signing secret: the record is deleted
with the subscription (by its `resource`), and every record after 24 hours.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("idempotency_keys", sa.Column("resource", sa.String(length=255), nullable=True))
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("resource")
