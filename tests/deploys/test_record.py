import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.core.errors import PROBLEM_JSON
from app.deploys.models import Deploy
from tests.deploys.helpers import count, deploy_events

URL = "/api/v1/deploys"
FULL = {
    "service": "checkout",
    "environment": "production",
    "version": "v2.14.0",
    "commit_sha": "3f6c2a1e9b0d4c5f8a7e6d5c4b3a291817161514",
    "status": "succeeded",
    "started_at": "2026-11-28T10:58:00+01:00",
    "finished_at": "2026-11-28T10:03:12Z",
    "url": "https://ci.example.com/pipelines/8812",
    "actor": "release-bot",
    "committed_at": "2026-11-28T09:41:07Z",
    "external_id": "pipeline-8812",
}


async def test_create_answers_201_with_location_and_emits_an_event(client, database):
    response = await client.post(URL, json=FULL)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{URL}/{body['id']}"
    assert body | {"id": None, "created_at": None, "updated_at": None} == FULL | {
        "id": None,
        "source": "api",
        "kind": "deploy",
        "started_at": "2026-11-28T09:58:00Z",  # normalised to UTC
        "unprotected": False,
        "missing_measures": [],
        "created_at": None,
        "updated_at": None,
    }
    assert (await client.get(response.headers["location"])).json() == body
    assert await deploy_events(database) == [body]


async def test_minimal_report_gets_defaults(client):
    before = datetime.now(UTC)
    response = await client.post(
        URL, json={"service": "search", "environment": "staging", "status": "started"}
    )
    assert response.status_code == 201
    body = response.json()
    started = datetime.fromisoformat(body["started_at"])
    assert before - timedelta(seconds=1) <= started <= datetime.now(UTC)
    assert (body["kind"], body["finished_at"], body["external_id"]) == ("deploy", None, None)


async def test_started_at_defaults_to_finished_at(client):
    report = {"service": "s", "environment": "e", "status": "failed"}
    response = await client.post(URL, json=report | {"finished_at": "2026-11-28T10:00:00Z"})
    assert response.json()["started_at"] == "2026-11-28T10:00:00Z"


async def test_reports_without_external_id_are_separate_deploys(client, database):
    report = {"service": "s", "environment": "e", "status": "succeeded"}
    assert (await client.post(URL, json=report)).status_code == 201
    assert (await client.post(URL, json=report)).status_code == 201
    assert await count(database, Deploy) == 2


async def test_resent_external_id_updates_the_same_deploy(client, database):
    started = {
        "service": "checkout",
        "environment": "production",
        "status": "started",
        "version": "v2.14.0",
        "started_at": "2026-11-28T09:58:00Z",
        "external_id": "run-1",
    }
    first = await client.post(URL, json=started)
    assert first.status_code == 201

    finished = {
        "service": "checkout",
        "environment": "production",
        "status": "succeeded",
        "finished_at": "2026-11-28T10:03:12Z",
        "url": "https://ci.example.com/runs/1",
        "external_id": "run-1",
    }
    second = await client.post(URL, json=finished)
    assert second.status_code == 200, second.text
    assert "location" not in second.headers
    body = second.json()
    assert body["id"] == first.json()["id"]
    # Stated fields change; fields left out keep what the first report said.
    assert {k: body[k] for k in ("status", "version", "started_at", "finished_at", "url")} == {
        "status": "succeeded",
        "version": "v2.14.0",
        "started_at": "2026-11-28T09:58:00Z",
        "finished_at": "2026-11-28T10:03:12Z",
        "url": "https://ci.example.com/runs/1",
    }
    assert body["updated_at"] > first.json()["updated_at"]
    assert body["created_at"] == first.json()["created_at"]

    third = await client.post(URL, json=finished)
    assert third.status_code == 200
    assert third.json() == body  # nothing changed, not even updated_at
    assert await count(database, Deploy) == 1
    assert [event["status"] for event in await deploy_events(database)] == [
        "started",
        "succeeded",
    ]


async def test_status_change_to_rolled_back_emits_again(client, database):
    report = {"service": "s", "environment": "e", "status": "succeeded", "external_id": "x"}
    await client.post(URL, json=report)
    await client.post(URL, json=report | {"url": "https://ci.example.com/x"})  # no status change
    rolled_back = await client.post(URL, json=report | {"status": "rolled_back"})
    assert rolled_back.json()["status"] == "rolled_back"
    events = await deploy_events(database)
    assert [event["status"] for event in events] == ["succeeded", "rolled_back"]
    assert events[-1]["url"] == "https://ci.example.com/x"


async def test_late_started_report_does_not_reopen_a_finished_deploy(client):
    report = {"service": "s", "environment": "e", "external_id": "late"}
    await client.post(URL, json=report | {"status": "failed"})
    late = await client.post(URL, json=report | {"status": "started", "version": "v9"})
    assert late.status_code == 200
    assert (late.json()["status"], late.json()["version"]) == ("failed", "v9")


async def test_update_that_would_finish_before_the_start_is_refused(client, database):
    report = {"service": "s", "environment": "e", "external_id": "t"}
    created = await client.post(
        URL, json=report | {"status": "started", "started_at": "2026-11-28T10:00:00Z"}
    )
    response = await client.post(
        URL, json=report | {"status": "succeeded", "finished_at": "2026-11-28T09:00:00Z"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["errors"][0]["field"] == "finished_at"
    stored = (await client.get(f"{URL}/{created.json()['id']}")).json()
    assert stored == created.json()
    assert len(await deploy_events(database)) == 1


async def test_idempotency_key_replays_the_first_response(client, database):
    headers = {"Idempotency-Key": "ci-run-77"}
    first = await client.post(URL, json=FULL, headers=headers)
    replay = await client.post(URL, json=FULL, headers=headers)
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == first.headers["location"]

    other = await client.post(URL, json=FULL | {"status": "failed"}, headers=headers)
    assert other.status_code == 409
    assert other.headers["content-type"] == PROBLEM_JSON
    assert await count(database, Deploy) == 1
    assert (await client.get(first.headers["location"])).json()["status"] == "succeeded"


async def test_idempotency_key_on_an_update_replays_200(client):
    await client.post(URL, json=FULL)
    headers = {"Idempotency-Key": "second"}
    update = await client.post(URL, json=FULL | {"status": "failed"}, headers=headers)
    replay = await client.post(URL, json=FULL | {"status": "failed"}, headers=headers)
    assert (update.status_code, replay.status_code) == (200, 200)
    assert replay.json() == update.json()


BAD_REPORTS = {
    "missing service": ({"environment": "e", "status": "started"}, "body.service"),
    "blank service": ({"service": "  ", "environment": "e", "status": "started"}, "body.service"),
    "long service": (
        {"service": "s" * 101, "environment": "e", "status": "started"},
        "body.service",
    ),
    "missing environment": ({"service": "s", "status": "started"}, "body.environment"),
    "missing status": ({"service": "s", "environment": "e"}, "body.status"),
    "unknown status": (
        {"service": "s", "environment": "e", "status": "done"},
        "body.status",
    ),
    "naive time": (
        {"service": "s", "environment": "e", "status": "started", "started_at": "2026-11-28T10:00"},
        "body.started_at",
    ),
    "unix time": (
        {"service": "s", "environment": "e", "status": "started", "started_at": 1795000000},
        "body.started_at",
    ),
    "date only": (
        {"service": "s", "environment": "e", "status": "failed", "finished_at": "2026-11-28"},
        "body.finished_at",
    ),
    "finished before started": (
        {
            "service": "s",
            "environment": "e",
            "status": "succeeded",
            "started_at": "2026-11-28T10:00:00Z",
            "finished_at": "2026-11-28T10:00:00+01:00",
        },
        "body.finished_at",
    ),
    "ftp url": (
        {"service": "s", "environment": "e", "status": "started", "url": "ftp://ci/x"},
        "body.url",
    ),
    "relative url": (
        {"service": "s", "environment": "e", "status": "started", "url": "/runs/1"},
        "body.url",
    ),
    "unknown kind": (
        {"service": "s", "environment": "e", "status": "started", "kind": "hotfix"},
        "body.kind",
    ),
    "empty external id": (
        {"service": "s", "environment": "e", "status": "started", "external_id": ""},
        "body.external_id",
    ),
    "unknown field": (
        {"service": "s", "environment": "e", "status": "started", "source": "github"},
        "body.source",
    ),
}


@pytest.mark.parametrize(("report", "field"), BAD_REPORTS.values(), ids=BAD_REPORTS.keys())
async def test_invalid_report_is_a_problem_naming_the_field(client, database, report, field):
    response = await client.post(URL, json=report)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert field in {error["field"] for error in response.json()["errors"]}
    assert field in response.json()["detail"]
    assert await count(database, Deploy) == 0
    assert await deploy_events(database) == []


async def test_scopes(client, anon_client):
    async def key(scope: str) -> dict[str, str]:
        created = await client.post("/api/v1/api-keys", json={"name": scope, "scopes": [scope]})
        return {"Authorization": f"Bearer {created.json()['key']}"}

    writer, reader = await key("deploys:write"), await key("incidents:read")
    report = {"service": "s", "environment": "e", "status": "started"}
    created = await anon_client.post(URL, json=report, headers=writer)
    assert created.status_code == 201
    assert (await anon_client.post(URL, json=report, headers=reader)).status_code == 403
    assert (await anon_client.post(URL, json=report)).status_code == 401
    assert (await anon_client.get(URL, headers=writer)).status_code == 403
    assert (await anon_client.get(URL, headers=reader)).status_code == 200
    assert (await anon_client.get(created.headers["location"], headers=reader)).status_code == 200


async def test_unknown_deploy_is_404(client):
    response = await client.get(f"{URL}/6d0f8c1e-3a7b-4e2d-9c5f-1b2a3c4d5e6f")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_concurrent_reports_of_one_deploy_make_one_row(client, database):
    report = {
        "service": "checkout",
        "environment": "production",
        "status": "succeeded",
        "external_id": "retried-by-ci",
    }
    responses = await asyncio.gather(*(client.post(URL, json=report) for _ in range(10)))
    assert sorted(response.status_code for response in responses) == [200] * 9 + [201]
    assert len({response.json()["id"] for response in responses}) == 1
    assert await count(database, Deploy) == 1
    assert len(await deploy_events(database)) == 1
