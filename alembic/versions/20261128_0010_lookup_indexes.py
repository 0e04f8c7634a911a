"""Indexes for the recurrence and grouping look-ups of alert ingestion

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alerts_alertname", "alerts", ["alertname"])
    op.create_index("ix_incidents_alert_group", "incidents", ["alert_group"])
    # Recurrence matches API-opened incidents by their `alertname` label; the same
    # expression is valid on PostgreSQL (jsonb) and SQLite (JSON text).
    op.execute("CREATE INDEX ix_incidents_label_alertname ON incidents ((labels ->> 'alertname'))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_incidents_label_alertname")
    op.drop_index("ix_incidents_alert_group", table_name="incidents")
    op.drop_index("ix_alerts_alertname", table_name="alerts")
