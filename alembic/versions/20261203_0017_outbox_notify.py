"""Outbox inserts NOTIFY the dispatchers (PostgreSQL)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

A statement trigger on outbox_events sends `NOTIFY muster_outbox` from the inserting
transaction; PostgreSQL delivers it at commit (once per transaction, however many
rows) to every dispatcher listening, so a replica's new events wake the others at
once instead of at their next poll. SQLite serves one process: nothing to do.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION muster_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('muster_outbox', '');
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION muster_outbox_notify()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_events_notify ON outbox_events")
        op.execute("DROP FUNCTION muster_outbox_notify()")
