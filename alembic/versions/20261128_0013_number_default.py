"""Incident numbers: the sequence is the column's default (PostgreSQL)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28

The INSERT takes the number and returns it, instead of a `nextval` round trip first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE incidents ALTER COLUMN number SET DEFAULT nextval('incident_number_seq')"
        )
        op.execute("ALTER SEQUENCE incident_number_seq OWNED BY incidents.number")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE incident_number_seq OWNED BY NONE")
        op.execute("ALTER TABLE incidents ALTER COLUMN number DROP DEFAULT")
