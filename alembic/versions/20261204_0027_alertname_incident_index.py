"""Alerts indexed by name and incident, for the recurrence look-up by alert name

The look-up joins each earlier incident sharing a service to its alerts of the new
incident's names. With an index on the name alone, a plan made while the table was
small (or on an estimate of one incident) intersected the whole name's index entries
once per incident: 64 ms per new group after 1 000 incidents of one alert name, where
(alertname, incident_id) makes each probe one index entry (5 ms).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alerts_alertname_incident", "alerts", ["alertname", "incident_id"])
    op.drop_index("ix_alerts_alertname", table_name="alerts")  # a prefix of the new one


def downgrade() -> None:
    op.create_index("ix_alerts_alertname", "alerts", ["alertname"])
    op.drop_index("ix_alerts_alertname_incident", table_name="alerts")
