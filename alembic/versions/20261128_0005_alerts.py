"""Alerts from Alertmanager, its notifications, and incident grouping and recurrence

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
OPEN_GROUP = sa.text(
    "alert_group IS NOT NULL"
    " AND status IN ('acknowledged', 'investigating', 'mitigated', 'triggered')"
)


def upgrade() -> None:
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notifications")),
        sa.UniqueConstraint("digest", name=op.f("uq_alert_notifications_digest")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("alertname", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("annotations", JSON, nullable=False),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=True),
        sa.Column("generator_url", sa.Text(), nullable=True),
        sa.Column("first_received_at", TIMESTAMP, nullable=False),
        sa.Column("last_received_at", TIMESTAMP, nullable=False),
        sa.Column("received_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_alerts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint(
            "incident_id", "fingerprint", name=op.f("uq_alerts_incident_id_fingerprint")
        ),
    )
    op.create_index("ix_alerts_fingerprint", "alerts", ["fingerprint"])
    op.create_index(
        "ix_alerts_incident_order", "alerts", ["incident_id", "first_received_at", "id"]
    )
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.add_column(sa.Column("alert_group", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("recurrence_of", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_recurrence_of_incidents"),
            "incidents",
            ["recurrence_of"],
            ["id"],
        )
    op.create_index(
        "uq_incidents_open_alert_group",
        "incidents",
        ["alert_group"],
        unique=True,
        sqlite_where=OPEN_GROUP,
        postgresql_where=OPEN_GROUP,
    )


def downgrade() -> None:
    op.drop_index("uq_incidents_open_alert_group", table_name="incidents")
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.drop_constraint("fk_incidents_recurrence_of_incidents", type_="foreignkey")
        batch_op.drop_column("recurrence_of")
        batch_op.drop_column("alert_group")
    op.drop_table("alerts")
    op.drop_table("alert_notifications")
