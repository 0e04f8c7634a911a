import asyncio

import httpx
import pytest
from sqlalchemy import text

from app.auth.service import KeyCache
from app.core.errors import PROBLEM_JSON


async def create_key(client: httpx.AsyncClient, *scopes: str, name: str = "ci") -> dict:
    response = await client.post("/api/v1/api-keys", json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return response.json()


async def test_created_key_authenticates_with_its_scopes(client, anon_client):
    created = await create_key(client, "incidents:read")
    assert created["key"].startswith(f"mst_{created['prefix']}_")
    assert created["scopes"] == ["incidents:read"]

    headers = {"Authorization": f"Bearer {created['key']}"}
    denied = await anon_client.get("/api/v1/api-keys", headers=headers)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == PROBLEM_JSON
    assert "admin" in denied.json()["detail"]


async def test_admin_scope_grants_everything(client, anon_client):
    created = await create_key(client, "admin", name="ops")
    response = await anon_client.get(
        "/api/v1/api-keys", headers={"Authorization": f"Bearer {created['key']}"}
    )
    assert response.status_code == 200


async def test_listing_never_shows_secrets(client):
    created = await create_key(client, "deploys:write")
    listed = (await client.get("/api/v1/api-keys")).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert created["key"] not in str(listed)


async def test_revoked_key_stops_working(client, anon_client):
    created = await create_key(client, "admin")
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await anon_client.get("/api/v1/api-keys", headers=headers)).status_code == 200

    revoked = await client.delete(f"/api/v1/api-keys/{created['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    response = await anon_client.get("/api/v1/api-keys", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "The API key is unknown or revoked"


@pytest.fixture
def key_cache(app):
    original = app.state.api_keys
    yield lambda seconds: setattr(app.state, "api_keys", KeyCache(seconds))
    app.state.api_keys = original


async def test_a_key_revoked_elsewhere_stops_working_within_the_cache_time(
    database, client, anon_client, key_cache
):
    key_cache(0.3)
    created = await create_key(client, "incidents:read")
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await anon_client.get("/api/v1/incidents", headers=headers)).status_code == 200

    async with database.engine.begin() as connection:  # as another replica would
        await connection.execute(
            text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE prefix = :prefix"),
            {"prefix": created["prefix"]},
        )
    cached = await anon_client.get("/api/v1/incidents", headers=headers)
    assert cached.status_code == 200, "trusted for the cache time"
    await asyncio.sleep(0.35)
    assert (await anon_client.get("/api/v1/incidents", headers=headers)).status_code == 401

    key_cache(0)
    other = await create_key(client, "incidents:read")
    other_headers = {"Authorization": f"Bearer {other['key']}"}
    assert (await anon_client.get("/api/v1/incidents", headers=other_headers)).status_code == 200
    async with database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE prefix = :prefix"),
            {"prefix": other["prefix"]},
        )
    response = await anon_client.get("/api/v1/incidents", headers=other_headers)
    assert response.status_code == 401, "a cache time of 0 looks the key up every time"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nope", "Bearer mst_000000000000_wrong", "Basic dXNlcjpwYXNz", "Bearer "],
)
async def test_missing_or_unknown_key_is_401_problem(anon_client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await anon_client.get("/api/v1/api-keys", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_right_prefix_wrong_secret_is_refused(client, anon_client):
    created = await create_key(client, "admin")
    forged = created["key"][:-4] + "AAAA"
    response = await anon_client.get(
        "/api/v1/api-keys", headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401


async def test_unknown_scope_is_a_validation_problem(client):
    response = await client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["root"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.scopes.0"
    assert (await client.get("/api/v1/api-keys")).json()["items"] == []


async def test_revoking_an_unknown_key_is_404(client):
    response = await client.delete("/api/v1/api-keys/4f0c2a3e-2f7b-4bb0-a1d6-1a2b3c4d5e6f")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
