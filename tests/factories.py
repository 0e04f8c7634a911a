"""Small typed helpers that drive the API the way a client would."""

from typing import Any

import httpx
from sqlalchemy import func, select

from app.core.db import Database


async def make_incident(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"title": "Checkout errors", "severity": "sev2", "services": ["checkout"]} | fields
    response = await client.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def move(client: httpx.AsyncClient, incident: dict[str, Any], status: str) -> httpx.Response:
    return await client.patch(f"/api/v1/incidents/{incident['id']}", json={"status": status})


async def join(
    client: httpx.AsyncClient, incident: dict[str, Any], handle: str, role: str = "observer"
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/incidents/{incident['id']}/participants", json={"handle": handle, "role": role}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def timeline(
    client: httpx.AsyncClient, incident: dict[str, Any], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/incidents/{incident['id']}/timeline", params={"limit": 200} | params
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def count_rows(database: Database, table: str) -> int:
    from app.models import metadata

    async with database.engine.connect() as connection:
        result = await connection.execute(select(func.count()).select_from(metadata.tables[table]))
        return int(result.scalar_one())


async def outbox_types(database: Database) -> list[str]:
    from app.core.events import OutboxEvent

    async with database.sessionmaker() as session:
        rows = await session.execute(select(OutboxEvent.type).order_by(OutboxEvent.occurred_at))
        return [row[0] for row in rows]


async def read_incident(client: httpx.AsyncClient, incident: dict[str, Any]) -> dict[str, Any]:
    """`GET /incidents/{id}` less its `engagement`: the incident as every other answer has it."""
    response = await client.get(f"/api/v1/incidents/{incident['id']}")
    assert response.status_code == 200, response.text
    read = dict(response.json())
    assert set(read.pop("engagement")) == {
        "sre_engaged_at",
        "escalation_level",
        "next_escalation_at",
    }
    return read
