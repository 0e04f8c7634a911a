"""The audit trail: audit_events, append-only (triggers refuse UPDATE and DELETE)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03

The triggers hold the application (and anyone using its database role) to appending:
on PostgreSQL a row trigger for UPDATE and DELETE and a statement trigger for TRUNCATE,
on SQLite one trigger each for UPDATE and DELETE. Removing old events (retention) is an
operator's deliberate act: disable or drop the trigger, as the table's owner.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "audit_events is append-only"


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("credential", sa.String(16), nullable=True),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("key_name", sa.String(100), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("route", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(100), nullable=True),
        sa.Column("target", sa.String(100), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
    )
    for column in ("actor", "key_id", "operation", "target", "at"):
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column, "seq"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION muster_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP;
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION muster_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION muster_audit_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{action.lower()} BEFORE {action} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {action} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION muster_audit_append_only()")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_events_no_{action}")
    op.drop_table("audit_events")
