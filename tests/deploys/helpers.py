"""Reading the database behind the API, to check what a request did and did not change."""

from typing import Any

from sqlalchemy import func, select
from sqlmodel import SQLModel, col

from app.core.db import Database
from app.core.events import EventType, OutboxEvent


async def count(database: Database, model: type[SQLModel]) -> int:
    async with database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def deploy_events(database: Database) -> list[dict[str, Any]]:
    """The `deploy` of every `deploy.recorded` outbox event, oldest first."""
    async with database.sessionmaker() as session:
        events = await session.scalars(
            select(OutboxEvent)
            .where(col(OutboxEvent.type) == EventType.DEPLOY_RECORDED)
            .order_by(col(OutboxEvent.occurred_at))
        )
        return [event.data["deploy"] for event in events]
