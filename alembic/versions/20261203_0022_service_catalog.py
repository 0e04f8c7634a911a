"""The service catalog, incidents' links, and rollbacks by service

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03

Every service already named by a deploy or an incident joins the catalog unowned, as
it would have on first sight.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
# The incidents' service names, one row each, per dialect.
INCIDENT_SERVICES = {
    "postgresql": "SELECT jsonb_array_elements_text(services) FROM incidents",
    "sqlite": "SELECT value FROM incidents, json_each(incidents.services)",
}


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("owner_team", sa.String(100), nullable=True),
        sa.Column("tier", sa.SmallInteger(), nullable=True),
        sa.Column("runbook_url", sa.String(2048), nullable=True),
        sa.Column("links", JSON, nullable=False),
        sa.Column("depends_on", JSON, nullable=False),
        sa.Column("escalation", JSON, nullable=True),
        sa.Column("checklist", JSON, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_services")),
    )
    op.create_index("ix_services_owner_team_name", "services", ["owner_team", "name"])
    op.create_table(
        "incident_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_links_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_links")),
        sa.UniqueConstraint("incident_id", "url", name=op.f("uq_incident_links_incident_id_url")),
    )
    op.create_index(
        "ix_rollback_reviews_service_executed_at", "rollback_reviews", ["service", "executed_at"]
    )
    seen = INCIDENT_SERVICES[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO services (name, links, depends_on, checklist, source, created_at, "
        "updated_at) SELECT name, '[]', '[]', '[]', 'seen', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        f"FROM (SELECT service AS name FROM deploys UNION {seen}) AS seen "
        "WHERE length(name) BETWEEN 1 AND 100"
    )


def downgrade() -> None:
    op.drop_index("ix_rollback_reviews_service_executed_at", table_name="rollback_reviews")
    op.drop_table("incident_links")
    op.drop_index("ix_services_owner_team_name", table_name="services")
    op.drop_table("services")
