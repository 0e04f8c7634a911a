from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.db import Database
from app.core.events import OutboxEvent
from app.notifications.models import Delivery
from tests.conftest import fresh_database, serving
from tests.notifications.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def idle_receiver() -> Iterator[Receiver]:
    """A receiver that is down until the test starts it."""
    server = Receiver()
    yield server
    server.stop()


async def subscribe(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    body = {"url": url, "events": ["*"]} | fields
    response = await client.post("/api/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def deliveries(
    client: httpx.AsyncClient, subscription: dict[str, Any], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/subscriptions/{subscription['id']}/deliveries", params={"limit": 200} | params
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def settled(database: Database) -> bool:
    """Every event fanned out and no delivery waiting or in flight."""
    async with database.sessionmaker() as session:
        unfanned = await session.scalar(
            select(func.count()).where(OutboxEvent.fanned_out_at.is_(None))
        )
        busy = await session.scalar(
            select(func.count()).where(Delivery.status.in_(["pending", "delivering"]))
        )
    return unfanned == 0 and busy == 0


@asynccontextmanager
async def running_app(
    backend: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own (own settings, own database, own dispatcher), started."""
    async with fresh_database(backend, tmp_path) as url, serving(url, **overrides) as started:
        yield started
