"""Outbound notifications: subscriptions, deliveries, and an ordered, fan-out-aware outbox

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28

`outbox_events` gains:
- `seq`, the new primary key (auto-increment; `id` stays, now unique), and `txid`, the
  inserting transaction's id on PostgreSQL (0 on SQLite): `(txid, seq)` is the event
  stream's resumable cursor;
- `fanned_out_at`: set once the dispatcher has made the event's deliveries. Events
  recorded before this revision are marked as fanned out, so history is not sent to
  subscriptions created afterwards.

Existing events are numbered in `occurred_at` order. PostgreSQL changes the table in
place; SQLite cannot change a primary key, so there the table is rebuilt and copied.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
PG_TXID = "pg_current_xact_id()::text::bigint"
NOT_FANNED_OUT = sa.text("fanned_out_at IS NULL")
CLAIMABLE = sa.text("status IN ('pending', 'delivering')")
ORIGINAL_COLUMNS = "id, type, incident_id, data, occurred_at"


def _outbox_indexes(table: str) -> None:
    op.create_index("ix_outbox_events_incident_id", table, ["incident_id"])
    op.create_index("ix_outbox_events_occurred_at", table, ["occurred_at"])


def _rebuild_outbox_on_sqlite(*, ordered: bool) -> None:
    """Copy outbox_events into a table of the new (`ordered`) or the original shape."""
    common = [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
    ]
    if ordered:
        op.create_table(
            "outbox_events_new",
            sa.Column("seq", sa.Integer(), nullable=False),
            *common,
            sa.Column("txid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
            sa.Column("fanned_out_at", TIMESTAMP, nullable=True),
            sa.PrimaryKeyConstraint("seq", name="pk_outbox_events"),
            sa.UniqueConstraint("id", name="uq_outbox_events_id"),
        )
        copy = (
            f"INSERT INTO outbox_events_new ({ORIGINAL_COLUMNS}, fanned_out_at) "
            f"SELECT {ORIGINAL_COLUMNS}, occurred_at FROM outbox_events ORDER BY occurred_at, id"
        )
    else:
        op.create_table(
            "outbox_events_new", *common, sa.PrimaryKeyConstraint("id", name="pk_outbox_events")
        )
        copy = (
            f"INSERT INTO outbox_events_new ({ORIGINAL_COLUMNS}) "
            f"SELECT {ORIGINAL_COLUMNS} FROM outbox_events"
        )
    op.execute(copy)
    op.drop_table("outbox_events")
    op.rename_table("outbox_events_new", "outbox_events")
    _outbox_indexes("outbox_events")


def _order_outbox() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_outbox_on_sqlite(ordered=True)
    else:
        # A BIGSERIAL by hand, so that existing rows are numbered in the order they happened.
        op.execute("CREATE SEQUENCE outbox_events_seq_seq")
        op.add_column("outbox_events", sa.Column("seq", sa.BigInteger(), nullable=True))
        op.execute(
            "UPDATE outbox_events SET seq = ordered.n FROM (SELECT id, row_number() "
            "OVER (ORDER BY occurred_at, id) AS n FROM outbox_events) AS ordered "
            "WHERE outbox_events.id = ordered.id"
        )
        op.execute(
            "SELECT setval('outbox_events_seq_seq', coalesce(max(seq), 0) + 1, false) "
            "FROM outbox_events"
        )
        op.execute(
            "ALTER TABLE outbox_events ALTER COLUMN seq SET DEFAULT "
            "nextval('outbox_events_seq_seq'), ALTER COLUMN seq SET NOT NULL"
        )
        op.execute("ALTER SEQUENCE outbox_events_seq_seq OWNED BY outbox_events.seq")
        # Existing rows get 0, new ones their transaction's id.
        op.add_column(
            "outbox_events",
            sa.Column("txid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        )
        op.alter_column("outbox_events", "txid", server_default=sa.text(f"({PG_TXID})"))
        op.add_column("outbox_events", sa.Column("fanned_out_at", TIMESTAMP, nullable=True))
        op.execute("UPDATE outbox_events SET fanned_out_at = occurred_at")
        op.drop_constraint("pk_outbox_events", "outbox_events", type_="primary")
        op.create_primary_key("pk_outbox_events", "outbox_events", ["seq"])
        op.create_unique_constraint("uq_outbox_events_id", "outbox_events", ["id"])
    op.create_index("ix_outbox_events_stream_order", "outbox_events", ["txid", "seq"])
    op.create_index(
        "ix_outbox_events_not_fanned_out",
        "outbox_events",
        ["seq"],
        sqlite_where=NOT_FANNED_OUT,
        postgresql_where=NOT_FANNED_OUT,
    )


def upgrade() -> None:
    _order_outbox()
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("disabled_reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_created_at_id", "subscriptions", ["created_at", "id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("target_key", sa.String(80), nullable=False),
        sa.Column("target_url", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name="fk_deliveries_event_id_outbox_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_deliveries_subscription_id_subscriptions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("event_id", "target_key", name="uq_deliveries_event_id_target_key"),
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        sqlite_where=CLAIMABLE,
        postgresql_where=CLAIMABLE,
    )
    op.create_index(
        "ix_deliveries_subscription_id_created_at",
        "deliveries",
        ["subscription_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("subscriptions")
    op.drop_index("ix_outbox_events_not_fanned_out", "outbox_events")
    op.drop_index("ix_outbox_events_stream_order", "outbox_events")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_outbox_on_sqlite(ordered=False)
        return
    op.drop_constraint("uq_outbox_events_id", "outbox_events", type_="unique")
    op.drop_constraint("pk_outbox_events", "outbox_events", type_="primary")
    op.create_primary_key("pk_outbox_events", "outbox_events", ["id"])
    for column in ("fanned_out_at", "txid", "seq"):
        op.drop_column("outbox_events", column)
