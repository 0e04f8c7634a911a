"""Deploys: the sender's own time of the latest event applied

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

GitHub's signature does not cover X-GitHub-Delivery: a captured body replayed under
a new delivery id must not roll a deploy back. An event older than this changes
nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deploys", sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not in batch mode: SQLite cannot copy the generated `effective_at` into a new table;
    # it drops a plain column in place.
    op.drop_column("deploys", "reported_at")
