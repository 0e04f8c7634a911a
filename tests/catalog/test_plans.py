"""The catalog's reads are served by indexes: the service page's sections, `unowned`."""

import json
from datetime import UTC, datetime

from sqlmodel import col, select

from app.catalog import overview
from app.catalog.models import Service
from app.core.sql import Backend
from tests.catalog.helpers import create
from tests.factories import make_incident

# What serves each section of the page; on SQLite, JSON membership (incidents by
# service) has no index, as for `GET /incidents?service=`.
PAGE_INDEXES = {
    "ix_deploys_service_environment_effective_at",
    "ix_action_item_rollouts_service_status",
    "ix_rollback_reviews_service_executed_at",
}


async def _plan(connection, statement) -> str:
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    values = compiled.construct_params()
    if connection.dialect.name == "postgresql":
        # Sequential scans made as costly as the planner allows: an index must serve.
        await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        params = tuple(
            json.dumps(value) if isinstance(value, list | dict) else value
            for value in (values[name] for name in compiled.positiontup or ())
        )
        rows = await connection.exec_driver_sql(f"EXPLAIN {compiled}", params)
        return "\n".join(row[0] for row in rows)
    params = tuple(values[name] for name in compiled.positiontup or ())
    rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
    return "\n".join(str(row[-1]) for row in rows)


async def test_the_service_page_reads_its_sections_from_indexes(client, database):
    await create(client, "payments")
    await make_incident(client, services=["payments"])
    async with database.engine.connect() as connection:
        backend = Backend(connection.dialect.name)
        statement = overview.sections("payments", backend, datetime.now(UTC))
        plan = await _plan(connection, statement)
    expected = PAGE_INDEXES | (
        {"ix_incidents_services"} if backend == Backend.POSTGRESQL else set()
    )
    assert {index for index in expected if index not in plan} == set(), plan


async def test_unowned_services_are_found_from_the_owner_index(client, database):
    await create(client, "checkout", owner_team="web")
    await make_incident(client, services=["search"])
    statement = select(Service).where(col(Service.owner_team).is_(None)).order_by(col(Service.name))
    async with database.engine.connect() as connection:
        plan = await _plan(connection, statement.limit(51))
    assert "ix_services_owner_team_name" in plan, plan
