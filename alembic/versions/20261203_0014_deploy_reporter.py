"""Deploys: the API key that reported one; Muster's own records get source `muster`

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

A deploy reported through the API is updated only by the key that reported it.
Executed rollbacks were recorded with source `api`, where any `deploys:write` key
could overwrite them by their `external_id`: they move to a source of their own.
Deploys reported before this revision have no reporter and are updated by no key.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deploys", sa.Column("reported_by", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE deploys SET source = 'muster' "
        "WHERE source = 'api' AND external_id LIKE 'muster-rollback-review-%'"
    )


def downgrade() -> None:
    op.execute("UPDATE deploys SET source = 'api' WHERE source = 'muster'")
    # Not in batch mode: SQLite cannot copy the generated `effective_at` into a new table;
    # it drops a plain column in place.
    op.drop_column("deploys", "reported_by")
