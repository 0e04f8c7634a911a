"""Helpers for the learning tests: action items and what a request left behind."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from app.core.db import Database
from app.core.events import OutboxEvent
from tests.factories import count_rows

TABLES = ("action_items", "action_item_rollouts", "timeline_entries", "outbox_events")


async def add_item(
    client: httpx.AsyncClient, incident: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"title": "Alert on pool saturation", "kind": "detect"} | fields
    response = await client.post(f"/api/v1/incidents/{incident['id']}/action-items", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def patch_item(
    client: httpx.AsyncClient, item: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    response = await client.patch(f"/api/v1/action-items/{item['id']}", json=fields)
    assert response.status_code == 200, response.text
    return dict(response.json())


def rollout(item: dict[str, Any]) -> dict[str, str]:
    return {r["service"]: r["status"] for r in item["rollout"]}


async def snapshot(database: Database) -> dict[str, int]:
    """Row counts of the tables a learning request may write."""
    return {table: await count_rows(database, table) for table in TABLES}


async def events(database: Database, event_type: str) -> list[dict[str, Any]]:
    async with database.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(col(OutboxEvent.type) == event_type)
            .order_by(col(OutboxEvent.occurred_at))
        )
        return [event.data for event in rows]
