"""Who wrote what: the credential behind each person on a record, timeline revisions
and tombstones. Records written before carry their handles and no credential (null).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("timeline_entries") as batch_op:
        batch_op.add_column(sa.Column("via", JSON, nullable=True))
        batch_op.add_column(sa.Column("deleted_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("deleted_by", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("deleted_via", JSON, nullable=True))
    with op.batch_alter_table("participants") as batch_op:
        batch_op.add_column(sa.Column("added_by", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("via", JSON, nullable=True))
    with op.batch_alter_table("checklist_items") as batch_op:
        batch_op.add_column(sa.Column("done_via", JSON, nullable=True))
    with op.batch_alter_table("rollback_reviews") as batch_op:
        batch_op.add_column(sa.Column("via", JSON, nullable=True))
    op.create_table(
        "timeline_revisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("occurred_at", UTC, nullable=False),
        sa.Column("written_at", UTC, nullable=False),
        sa.Column("written_by", sa.String(100), nullable=True),
        sa.Column("via", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_timeline_revisions"),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["timeline_entries.id"],
            name="fk_timeline_revisions_entry_id_timeline_entries",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("entry_id", "number", name="uq_timeline_revisions_entry_id_number"),
    )


def downgrade() -> None:
    # Columns dropped in place on SQLite (3.35 and later): a table rebuild would lose
    # the participants' partial unique index.
    op.drop_table("timeline_revisions")
    with op.batch_alter_table("rollback_reviews", recreate="never") as batch_op:
        batch_op.drop_column("via")
    with op.batch_alter_table("checklist_items", recreate="never") as batch_op:
        batch_op.drop_column("done_via")
    with op.batch_alter_table("participants", recreate="never") as batch_op:
        batch_op.drop_column("via")
        batch_op.drop_column("added_by")
    with op.batch_alter_table("timeline_entries", recreate="never") as batch_op:
        batch_op.drop_column("deleted_via")
        batch_op.drop_column("deleted_by")
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("via")
