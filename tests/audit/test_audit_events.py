"""The audit trail: every write and every refused authentication, append-only."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.db import Database
from app.core.errors import PROBLEM_JSON
from app.main import create_app
from tests.conftest import ADMIN_KEY, fresh_database, make_settings

AUDIT = "/api/v1/audit-events"


async def personal_key(client: httpx.AsyncClient, person: str, *scopes: str) -> dict:
    body = {"name": f"{person}-laptop", "scopes": list(scopes), "person": person}
    created = await client.post("/api/v1/api-keys", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def as_key(key: dict, request_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}", "X-Request-ID": request_id}


async def trail(client: httpx.AsyncClient, **filters: str) -> list[dict]:
    response = await client.get(AUDIT, params=filters)
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))  # oldest first


async def test_each_write_of_a_scenario_is_listed_in_order(client, anon_client, database, backend):
    alice = await personal_key(client, "alice", "incidents:write")
    bob = await personal_key(client, "bob", "incidents:write")

    opened = await anon_client.post(
        "/api/v1/incidents",
        json={"title": "Checkout down", "severity": "sev2"},
        headers=as_key(alice, "req-1"),
    )
    assert opened.status_code == 201
    incident = opened.json()
    noted = await anon_client.post(
        f"/api/v1/incidents/{incident['id']}/timeline",
        json={"kind": "action", "summary": "Restarted pods"},
        headers=as_key(bob, "req-2"),
    )
    assert noted.status_code == 201
    patched = await anon_client.patch(
        f"/api/v1/incidents/{incident['reference']}",
        json={"severity": "sev1"},
        headers=as_key(alice, "req-3"),
    )
    assert patched.status_code == 200
    read = await anon_client.get("/api/v1/incidents", headers=as_key(bob, "req-4"))
    assert read.status_code == 200  # reads are not audited

    events = await trail(client)
    keys = [event for event in events if event["operation"] == "api-keys-create-api-key"]
    assert [event["target"] for event in keys] == [alice["id"], bob["id"]]
    writes = [event for event in events if event["operation"] != "api-keys-create-api-key"]
    assert [
        (e["request_id"], e["actor"], e["method"], e["route"], e["operation"], e["status"])
        for e in writes
    ] == [
        ("req-1", "alice", "POST", "/api/v1/incidents", "incidents-create-incident", 201),
        (
            "req-2",
            "bob",
            "POST",
            "/api/v1/incidents/{incident_id}/timeline",
            "timeline-add-entry",
            201,
        ),
        (
            "req-3",
            "alice",
            "PATCH",
            "/api/v1/incidents/{incident_id}",
            "incidents-update-incident",
            200,
        ),
    ]
    assert writes[0]["target"] == incident["reference"]  # from the `Location` it answered
    assert writes[1]["target"] == noted.json()["id"]
    assert writes[2]["target"] == incident["reference"]  # as the path named it
    assert writes[0]["via"] == {
        "credential": "api_key",
        "key_id": alice["id"],
        "key_name": "alice-laptop",
        "subject": None,
    }
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(seqs)
    if backend == "postgres":  # PostgreSQL shows which transaction wrote a row (xmin)
        async with database.engine.connect() as connection:
            wrote = await connection.scalar(text("SELECT xmin::text FROM incidents"))
            recorded = await connection.scalar(
                text("SELECT xmin::text FROM audit_events WHERE request_id = 'req-3'")
            )
        assert wrote == recorded  # the incident's last change and its event: one transaction


async def test_no_body_and_no_secret_is_kept(client, database):
    created = await client.post(
        "/api/v1/api-keys", json={"name": "ci-secret-name", "scopes": ["deploys:write"]}
    )
    key = created.json()["key"]
    await client.post("/api/v1/incidents", json={"title": "Payroll leak", "severity": "sev1"})

    async with database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM audit_events"))).all()
    assert len(rows) == 2
    stored = repr(rows)
    for secret_or_body in (key, created.json()["prefix"], "Payroll leak", ADMIN_KEY):
        assert secret_or_body not in stored


async def test_refused_writes_are_recorded_with_their_status(client, anon_client):
    reader = await personal_key(client, "carol", "incidents:read")
    writer = await personal_key(client, "dave", "incidents:write")
    denied = await anon_client.post(
        "/api/v1/incidents", json={"title": "x", "severity": "sev3"}, headers=as_key(reader, "r1")
    )
    assert denied.status_code == 403
    missing = await anon_client.patch(
        "/api/v1/incidents/INC-999", json={"severity": "sev1"}, headers=as_key(writer, "r2")
    )
    assert missing.status_code == 404
    invalid = await anon_client.post(
        "/api/v1/incidents", json={"severity": "sev9"}, headers=as_key(writer, "r3")
    )
    assert invalid.status_code == 422

    events = [event for event in await trail(client) if event["request_id"] in {"r1", "r2", "r3"}]
    assert [(e["request_id"], e["actor"], e["status"], e["target"]) for e in events] == [
        ("r1", "carol", 403, None),
        ("r2", "dave", 404, "INC-999"),
        ("r3", "dave", 422, None),
    ]


async def test_refused_authentications_are_recorded(client, anon_client):
    unknown = {"Authorization": "Bearer mst_000000000000_nope", "X-Request-ID": "bad-key"}
    assert (await anon_client.get("/api/v1/incidents", headers=unknown)).status_code == 401
    anonymous = await anon_client.post("/api/v1/incidents", headers={"X-Request-ID": "no-key"})
    assert anonymous.status_code == 401

    events = await trail(client)
    assert [(e["request_id"], e["method"], e["actor"], e["via"], e["status"]) for e in events] == [
        ("bad-key", "GET", None, None, 401),
        ("no-key", "POST", None, None, 401),
    ]
    assert "nope" not in str(events)


@pytest.fixture
async def strict_app(backend: str, tmp_path) -> AsyncIterator[FastAPI]:
    """An app that records at most two refused authentications a minute."""
    async with fresh_database(backend, tmp_path) as url:
        application = create_app(make_settings(url, audit_refusals_per_minute=2))
        async with application.router.lifespan_context(application):
            yield application


async def test_refused_authentications_are_rate_limited(strict_app):
    transport = httpx.ASGITransport(app=strict_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://muster.test") as http:
        for n in range(5):
            bad = {"Authorization": f"Bearer wrong-{n}"}
            assert (await http.get("/api/v1/incidents", headers=bad)).status_code == 401
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        created = await http.post("/api/v1/incidents", json={"title": "x"}, headers=admin)
        assert created.status_code == 201
        events = (await http.get(AUDIT, headers=admin)).json()["items"]
    assert [event["status"] for event in events] == [201, 401, 401]  # writes are never dropped


async def test_filters_and_pages(client, anon_client, clock):
    alice = await personal_key(client, "alice", "incidents:write")
    start = clock.now
    first = await anon_client.post(
        "/api/v1/incidents", json={"title": "one"}, headers=as_key(alice, "a1")
    )
    clock.advance(minutes=10)
    second = await client.post("/api/v1/incidents", json={"title": "two"})
    reference = second.json()["reference"]
    await client.patch(f"/api/v1/incidents/{reference}", json={"severity": "sev1"})

    def ids(events: list[dict]) -> list[str | None]:
        return [event["target"] for event in events]

    assert ids(await trail(client, actor="Alice")) == [first.json()["reference"]]
    assert ids(await trail(client, key=alice["id"])) == [first.json()["reference"]]
    assert ids(await trail(client, key="alice-laptop")) == [first.json()["reference"]]
    assert ids(await trail(client, actor="service:bootstrap-admin", target=reference)) == [
        reference,
        reference,
    ]
    patches = await trail(client, operation="incidents-update-incident")
    assert [event["method"] for event in patches] == ["PATCH"]
    later = (start + timedelta(minutes=5)).isoformat()
    assert len(await trail(client, since=later)) == 2
    assert len(await trail(client, until=later)) == 2  # the key's creation and `one`

    page = await client.get(AUDIT, params={"limit": 3})
    rest = await client.get(AUDIT, params={"limit": 3, "cursor": page.json()["next_cursor"]})
    seqs = [event["seq"] for event in page.json()["items"] + rest.json()["items"]]
    assert len(seqs) == 4
    assert seqs == sorted(seqs, reverse=True)
    assert rest.json()["next_cursor"] is None


async def test_only_admins_read_the_trail(client, anon_client):
    writer = await personal_key(client, "erin", "incidents:write")
    response = await anon_client.get(AUDIT, headers=as_key(writer, "peek"))
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    naive = await client.get(AUDIT, params={"since": "2026-12-01T00:00:00"})
    assert naive.status_code == 422


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"],
)
async def test_the_database_refuses_to_rewrite_the_trail(client, database: Database, statement):
    await client.post("/api/v1/incidents", json={"title": "x"})
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.engine.begin() as connection:
            await connection.execute(text(statement))
    events = await trail(client)
    assert [event["actor"] for event in events] == ["service:bootstrap-admin"]


async def test_a_failed_write_is_recorded_once_and_its_entry_rolls_back(client):
    # A conflicting create: the handler raises after nothing was recorded; the
    # middleware records it once, after the rollback.
    created = await client.post(
        "/api/v1/incidents", json={"title": "x"}, headers={"Idempotency-Key": "k1"}
    )
    reused = await client.post(
        "/api/v1/incidents", json={"title": "y"}, headers={"Idempotency-Key": "k1"}
    )
    assert (created.status_code, reused.status_code) == (201, 409)
    events = await trail(client)
    assert [event["status"] for event in events] == [201, 409]
    assert len({event["request_id"] for event in events}) == 2
    assert str(uuid.UUID(events[0]["request_id"])).replace("-", "") == events[0]["request_id"]


async def test_an_act_as_bot_is_recorded_acting_for_its_person(client, anon_client):
    made = await client.post(
        "/api/v1/api-keys", json={"name": "chat-bot", "scopes": ["incidents:write", "act-as"]}
    )
    bot = made.json()
    headers = {**as_key(bot, "bot-1"), "Muster-Acting-For": "Alice"}
    opened = await anon_client.post("/api/v1/incidents", json={"title": "x"}, headers=headers)
    assert opened.status_code == 201, opened.text

    events = await trail(client, key="chat-bot")
    assert [(e["actor"], e["via"]["key_name"], e["status"]) for e in events] == [
        ("alice", "chat-bot", 201)
    ]
