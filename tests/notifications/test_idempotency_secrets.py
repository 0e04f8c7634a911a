"""A subscription's signing secret does not outlive it in the idempotency records."""

from datetime import timedelta

from sqlalchemy import select, update

from app.core.clock import utcnow
from app.core.idempotency import IdempotencyRecord
from app.notifications import dispatcher
from tests.factories import count_rows
from tests.notifications.conftest import running_app
from tests.notifications.receiver import eventually

BODY = {"url": "https://hooks.example.com/muster", "events": ["*"]}


async def test_deleting_a_subscription_forgets_its_creation_response(client, database):
    headers = {"Idempotency-Key": "subscribe-1"}
    created = await client.post("/api/v1/subscriptions", json=BODY, headers=headers)
    assert created.status_code == 201, created.text
    replayed = await client.post("/api/v1/subscriptions", json=BODY, headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true"  # kept while it exists

    deleted = await client.delete(f"/api/v1/subscriptions/{created.json()['id']}")
    assert deleted.status_code == 204
    assert await count_rows(database, "idempotency_keys") == 0
    again = await client.post("/api/v1/subscriptions", json=BODY, headers=headers)
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != created.json()["id"]
    assert created.json()["secret"] not in again.text


async def test_the_dispatcher_purges_expired_records(backend, tmp_path, monkeypatch):
    monkeypatch.setattr(dispatcher, "PURGE_EVERY_SECONDS", 0.1)
    monkeypatch.setattr(dispatcher, "PURGE_BATCH", 2)  # several batches
    async with running_app(backend, tmp_path) as (app, client):
        database = app.state.database
        for n in range(5):
            response = await client.post(
                "/api/v1/subscriptions", json=BODY, headers={"Idempotency-Key": f"old-{n}"}
            )
            assert response.status_code == 201, response.text
        async with database.sessionmaker() as session, session.begin():
            await session.execute(
                update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=25))
            )
        fresh = await client.post(
            "/api/v1/subscriptions", json=BODY, headers={"Idempotency-Key": "fresh"}
        )
        assert fresh.status_code == 201

        async def keys() -> list[str]:
            async with database.sessionmaker() as session:
                return list(await session.scalars(select(IdempotencyRecord.key)))

        await eventually(lambda: _only(keys, ["fresh"]), message="expired records purged")


async def _only(keys, expected: list[str]) -> bool:
    return await keys() == expected
