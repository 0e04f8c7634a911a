"""Trigram indexes for `q=` searches on incidents (PostgreSQL, when pg_trgm is there)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28

pg_trgm ships with PostgreSQL's contrib modules and is a trusted extension: the
database owner may create it. Where it is not available the indexes are skipped and
searches scan, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("title", "summary")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.scalar(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
    )
    if not available:
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        op.create_index(
            f"ix_incidents_{column}_trgm",
            "incidents",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_incidents_{column}_trgm")
