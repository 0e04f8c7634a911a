import asyncio

from tests.core.test_errors import assert_problem
from tests.factories import count_rows

BODY = {"title": "Checkout errors", "severity": "sev2"}


async def test_same_key_and_body_replays_the_first_response(client, database):
    headers = {"Idempotency-Key": "create-1"}
    first = await client.post("/api/v1/incidents", json=BODY, headers=headers)
    again = await client.post("/api/v1/incidents", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await count_rows(database, "incidents") == 1


async def test_same_key_with_another_body_is_409(client, database):
    headers = {"Idempotency-Key": "create-2"}
    await client.post("/api/v1/incidents", json=BODY, headers=headers)
    problem = assert_problem(
        await client.post("/api/v1/incidents", json=BODY | {"severity": "sev1"}, headers=headers),
        409,
    )
    assert problem["type"] == "urn:muster:problem:idempotency-key-reused"
    assert await count_rows(database, "incidents") == 1


async def test_keys_belong_to_their_api_key(client, anon_client, database):
    other = (
        await client.post("/api/v1/api-keys", json={"name": "bot", "scopes": ["incidents:write"]})
    ).json()
    headers = {"Idempotency-Key": "shared"}
    await client.post("/api/v1/incidents", json=BODY, headers=headers)
    response = await anon_client.post(
        "/api/v1/incidents",
        json=BODY,
        headers=headers | {"Authorization": f"Bearer {other['key']}"},
    )
    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers
    assert await count_rows(database, "incidents") == 2


async def test_a_failed_request_does_not_use_up_its_key(client, database):
    headers = {"Idempotency-Key": "retry-me"}
    bad = await client.post("/api/v1/incidents", json={"title": ""}, headers=headers)
    assert bad.status_code == 422
    good = await client.post("/api/v1/incidents", json=BODY, headers=headers)
    assert good.status_code == 201
    assert await count_rows(database, "idempotency_keys") == 1


async def test_concurrent_retries_with_one_key_create_one_incident(client, database):
    headers = {"Idempotency-Key": "storm"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/incidents", json=BODY, headers=headers) for _ in range(10))
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert await count_rows(database, "incidents") == 1


async def test_a_key_older_than_its_lifetime_can_be_used_again(client, database, clock):
    headers = {"Idempotency-Key": "create-expiring"}
    first = await client.post("/api/v1/incidents", json=BODY, headers=headers)
    clock.advance(hours=23)
    assert_problem(
        await client.post("/api/v1/incidents", json=BODY | {"title": "New"}, headers=headers), 409
    )
    clock.advance(hours=2)  # 25 hours: the first use is forgotten
    second = await client.post("/api/v1/incidents", json=BODY | {"title": "New"}, headers=headers)
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first.json()["id"]
    again = await client.post("/api/v1/incidents", json=BODY | {"title": "New"}, headers=headers)
    assert again.json() == second.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count_rows(database, "incidents") == 2


async def test_an_act_as_bot_reusing_a_key_for_another_person_is_409(key_client, database):
    bot = await key_client("incidents:write", "act-as", name="chat-bot")
    key = {"Idempotency-Key": "bot-1"}
    first = await bot.post(
        "/api/v1/incidents", json=BODY, headers=key | {"Muster-Acting-For": "alice"}
    )
    assert first.status_code == 201
    again = await bot.post(
        "/api/v1/incidents", json=BODY, headers=key | {"Muster-Acting-For": "alice"}
    )
    assert again.headers["idempotent-replayed"] == "true"
    problem = assert_problem(
        await bot.post("/api/v1/incidents", json=BODY, headers=key | {"Muster-Acting-For": "bob"}),
        409,
    )
    assert problem["type"] == "urn:muster:problem:idempotency-key-reused"
    assert await count_rows(database, "incidents") == 1
