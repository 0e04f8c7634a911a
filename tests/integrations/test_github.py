import asyncio
import json

import pytest
from pydantic import SecretStr

from app.core.errors import PROBLEM_JSON
from app.deploys.models import Deploy
from app.integrations.models import InboundDelivery
from tests.deploys.helpers import count, deploy_events
from tests.integrations.conftest import fixture_bytes, fixture_json, github_headers

URL = "/api/v1/webhooks/github"
DEPLOYMENT_STATUS = "github/deployment_status-payload.json"
WORKFLOW_RUN = "github/workflow_run-completed.payload.json"
RELEASE = "github/release-published.payload.json"


async def post(sender, body: bytes, event: str, **headers):
    return await sender.post(URL, content=body, headers=github_headers(body, event, **headers))


def with_changes(name: str, **changes) -> bytes:
    """The fixture with some of its objects' fields changed, e.g. workflow={"name": …}."""
    payload = fixture_json(name)
    for key, value in changes.items():
        if isinstance(value, dict):
            payload[key].update(value)
        else:
            payload[key] = value
    return json.dumps(payload).encode()


async def test_ping_fixture_is_answered(sender, database):
    response = await post(sender, fixture_bytes("github/ping-payload.json"), "ping")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "pong",
        "deploy_id": None,
        "deploy_ids": [],
        "detail": None,
    }
    assert await count(database, Deploy) == 0


async def test_deployment_status_fixture_records_a_deploy(sender, client, database):
    response = await post(sender, fixture_bytes(DEPLOYMENT_STATUS), "deployment_status")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "recorded"

    deploy = (await client.get(f"/api/v1/deploys/{response.json()['deploy_id']}")).json()
    assert deploy | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "source": "github",
        "external_id": "deployment:145988746",
        "kind": "deploy",
        "service": "Hello-World",
        "environment": "production",
        "version": "master",
        "commit_sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        "status": "succeeded",
        "started_at": "2019-05-15T15:20:53Z",
        "finished_at": "2019-05-15T15:20:55Z",
        "url": None,  # the fixture's target_url is ""
        "actor": "Codertocat",
        "committed_at": None,
        "unprotected": False,
        "missing_measures": [],
        "created_at": None,
        "updated_at": None,
    }
    assert [event["id"] for event in await deploy_events(database)] == [deploy["id"]]


async def test_redelivery_is_a_duplicate_and_changes_nothing(sender, client, database):
    body = fixture_bytes(DEPLOYMENT_STATUS)
    first = await post(sender, body, "deployment_status", delivery="d-1")
    before = (await client.get(f"/api/v1/deploys/{first.json()['deploy_id']}")).json()

    again = await post(sender, body, "deployment_status", delivery="d-1")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    # Even a different body under the same delivery id is not acted on.
    failed = with_changes(DEPLOYMENT_STATUS, deployment_status={"state": "failure"})
    assert (await post(sender, failed, "deployment_status", delivery="d-1")).json()[
        "status"
    ] == "duplicate"

    after = (await client.get(f"/api/v1/deploys/{before['id']}")).json()
    assert after == before
    assert await count(database, Deploy) == 1
    assert await count(database, InboundDelivery) == 1
    assert len(await deploy_events(database)) == 1


async def test_concurrent_copies_of_one_delivery_act_once(sender, database):
    body = fixture_bytes(DEPLOYMENT_STATUS)
    responses = await asyncio.gather(
        *(post(sender, body, "deployment_status", delivery="same") for _ in range(6))
    )
    statuses = sorted(response.json()["status"] for response in responses)
    assert statuses == ["duplicate"] * 5 + ["recorded"]
    assert await count(database, Deploy) == 1
    assert len(await deploy_events(database)) == 1


async def test_later_statuses_of_a_deployment_update_one_deploy(sender, client, database):
    started = with_changes(DEPLOYMENT_STATUS, deployment_status={"state": "in_progress"})
    first = await post(sender, started, "deployment_status")
    assert first.json()["status"] == "recorded"
    deploy_id = first.json()["deploy_id"]
    running = (await client.get(f"/api/v1/deploys/{deploy_id}")).json()
    assert (running["status"], running["finished_at"]) == ("started", None)

    done = await post(sender, fixture_bytes(DEPLOYMENT_STATUS), "deployment_status")
    assert done.json() | {"deploy_ids": None} == {
        "status": "updated",
        "deploy_id": deploy_id,
        "deploy_ids": None,
        "detail": None,
    }
    # A `queued` status delivered late does not reopen the finished deploy.
    late = with_changes(DEPLOYMENT_STATUS, deployment_status={"state": "queued"})
    assert (await post(sender, late, "deployment_status")).json()["status"] == "updated"

    deploy = (await client.get(f"/api/v1/deploys/{deploy_id}")).json()
    assert (deploy["status"], deploy["finished_at"]) == ("succeeded", "2019-05-15T15:20:55Z")
    assert await count(database, Deploy) == 1
    assert [e["status"] for e in await deploy_events(database)] == ["started", "succeeded"]


@pytest.mark.parametrize(("state", "status"), [("failure", "failed"), ("error", "failed")])
async def test_failed_deployment_states(sender, client, state, status):
    body = with_changes(
        DEPLOYMENT_STATUS,
        deployment_status={"state": state, "log_url": "https://ci.example.com/run/7"},
    )
    deploy_id = (await post(sender, body, "deployment_status")).json()["deploy_id"]
    deploy = (await client.get(f"/api/v1/deploys/{deploy_id}")).json()
    assert (deploy["status"], deploy["url"]) == (status, "https://ci.example.com/run/7")


async def test_inactive_deployment_status_is_ignored(sender, database):
    body = with_changes(DEPLOYMENT_STATUS, deployment_status={"state": "inactive"})
    response = await post(sender, body, "deployment_status")
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert await count(database, Deploy) == 0


@pytest.mark.parametrize("key", ["Codertocat/Hello-World", "Hello-World"])
async def test_service_map_names_the_service(sender, client, configure, key):
    configure(github_service_map={key: "greeter", "other/repo": "nope"})
    response = await post(sender, fixture_bytes(DEPLOYMENT_STATUS), "deployment_status")
    deploy = (await client.get(f"/api/v1/deploys/{response.json()['deploy_id']}")).json()
    assert deploy["service"] == "greeter"


async def test_same_id_from_another_source_is_another_deploy(sender, client, database):
    await post(sender, fixture_bytes(DEPLOYMENT_STATUS), "deployment_status")
    response = await client.post(
        "/api/v1/deploys",
        json={
            "service": "Hello-World",
            "environment": "production",
            "status": "failed",
            "external_id": "deployment:145988746",
        },
    )
    assert response.status_code == 201
    assert await count(database, Deploy) == 2


async def test_workflow_run_fixture_is_not_a_deploy_workflow(sender, database):
    response = await post(sender, fixture_bytes(WORKFLOW_RUN), "workflow_run")
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert "'test'" in response.json()["detail"]
    assert await count(database, Deploy) == 0
    assert await count(database, InboundDelivery) == 0


async def test_completed_deploy_workflow_run_records_a_deploy(sender, client):
    body = with_changes(WORKFLOW_RUN, workflow={"name": "Deploy to production"})
    response = await post(sender, body, "workflow_run")
    assert response.json()["status"] == "recorded"
    deploy = (await client.get(f"/api/v1/deploys/{response.json()['deploy_id']}")).json()
    assert {k: deploy[k] for k in ("external_id", "service", "environment", "status")} == {
        "external_id": "workflow_run:289782451",
        "service": "octo-repo",
        "environment": "production",
        "status": "succeeded",
    }
    assert deploy["commit_sha"] == "3484a3fb816e0859fd6e1cea078d76385ff50625"
    assert deploy["url"] == "https://github.com/octo-org/octo-repo/actions/runs/289782451"
    assert (deploy["started_at"], deploy["finished_at"]) == (
        "2020-10-05T16:33:49Z",
        "2020-10-05T16:33:49Z",
    )

    # A re-run of the same run that fails updates the same deploy.
    failed = with_changes(
        WORKFLOW_RUN,
        workflow={"name": "Deploy to production"},
        workflow_run={"conclusion": "failure"},
    )
    again = await post(sender, failed, "workflow_run")
    assert again.json()["deploy_id"] == deploy["id"]
    assert (await client.get(f"/api/v1/deploys/{deploy['id']}")).json()["status"] == "failed"


async def test_deploy_workflows_and_environment_come_from_settings(sender, client, configure):
    configure(github_deploy_workflows=["ship"], github_default_environment="staging")
    by_path = with_changes(WORKFLOW_RUN, workflow={"path": ".github/workflows/SHIP-it.yml"})
    response = await post(sender, by_path, "workflow_run")
    assert response.json()["status"] == "recorded"
    deploy = (await client.get(f"/api/v1/deploys/{response.json()['deploy_id']}")).json()
    assert deploy["environment"] == "staging"

    default_name = with_changes(WORKFLOW_RUN, workflow={"name": "deploy"})
    assert (await post(sender, default_name, "workflow_run")).status_code == 202


@pytest.mark.parametrize(
    "changes",
    [{"action": "requested"}, {"workflow_run": {"conclusion": "skipped"}}],
)
async def test_unfinished_or_skipped_workflow_runs_are_ignored(sender, database, changes):
    body = with_changes(WORKFLOW_RUN, workflow={"name": "deploy"}, **changes)
    assert (await post(sender, body, "workflow_run")).status_code == 202
    assert await count(database, Deploy) == 0


async def test_release_published_then_released_is_one_deploy(sender, client, database):
    published = await post(sender, fixture_bytes(RELEASE), "release")
    assert published.json()["status"] == "recorded"
    released = await post(sender, with_changes(RELEASE, action="released"), "release")
    assert released.status_code == 200
    assert released.json()["deploy_id"] == published.json()["deploy_id"]

    deploy = (await client.get(f"/api/v1/deploys/{published.json()['deploy_id']}")).json()
    assert {k: deploy[k] for k in ("kind", "version", "environment", "status")} == {
        "kind": "release",
        "version": "0.0.1",
        "environment": "production",
        "status": "succeeded",
    }
    assert deploy["commit_sha"] is None  # target_commitish is a branch name, not a commit
    assert deploy["finished_at"] == "2019-05-15T15:20:53Z"
    assert await count(database, Deploy) == 1
    assert len(await deploy_events(database)) == 1


async def test_other_release_actions_are_ignored(sender, database):
    response = await post(sender, with_changes(RELEASE, action="edited"), "release")
    assert response.status_code == 202
    assert await count(database, Deploy) == 0


async def test_unknown_event_is_acknowledged_and_ignored(sender, database):
    response = await post(sender, fixture_bytes(DEPLOYMENT_STATUS), "issues")
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert await count(database, Deploy) == 0


@pytest.mark.parametrize(
    "tamper",
    [
        lambda headers: headers | {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        lambda headers: {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"},
        lambda headers: headers | {"X-Hub-Signature-256": headers["X-Hub-Signature-256"][7:]},
        lambda headers: headers | {"X-Hub-Signature-256": "sha1=abc"},
    ],
    ids=["wrong", "missing", "no-prefix", "sha1"],
)
async def test_bad_signature_is_401(sender, database, tamper):
    body = fixture_bytes(DEPLOYMENT_STATUS)
    headers = tamper(github_headers(body, "deployment_status"))
    response = await sender.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert await count(database, Deploy) == 0


async def test_signature_made_with_another_secret_or_body_is_401(sender, database):
    body = fixture_bytes(DEPLOYMENT_STATUS)
    other_secret = github_headers(body, "deployment_status", secret="not-the-secret")
    assert (await sender.post(URL, content=body, headers=other_secret)).status_code == 401
    signed_ping = github_headers(fixture_bytes("github/ping-payload.json"), "deployment_status")
    assert (await sender.post(URL, content=body, headers=signed_ping)).status_code == 401
    assert await count(database, Deploy) == 0


async def test_unset_secret_is_503(sender, database, configure):
    configure(github_webhook_secret=None)
    body = fixture_bytes(DEPLOYMENT_STATUS)
    response = await post(sender, body, "deployment_status")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "MUSTER_GITHUB_WEBHOOK_SECRET" in response.json()["detail"]
    assert await count(database, Deploy) == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b"\xff\xfe", 400), (b"{}", 422)],
)
async def test_malformed_body_is_a_problem(sender, body, status):
    response = await post(sender, body, "deployment_status")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_payload_missing_fields_names_them(sender, database):
    payload = fixture_json(DEPLOYMENT_STATUS)
    del payload["deployment"]["id"]
    payload["deployment_status"]["created_at"] = "2019-05-15T15:20:55"  # no offset
    response = await post(sender, json.dumps(payload).encode(), "deployment_status")
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"body.deployment.id", "body.deployment_status.created_at"}
    assert await count(database, Deploy) == 0


async def test_missing_delivery_header_is_a_problem(sender):
    body = fixture_bytes(DEPLOYMENT_STATUS)
    headers = github_headers(body, "deployment_status")
    del headers["X-GitHub-Delivery"]
    response = await sender.post(URL, content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.x-github-delivery"


async def test_secret_is_read_from_settings_per_request(sender, configure):
    configure(github_webhook_secret=SecretStr("rotated"))
    body = fixture_bytes("github/ping-payload.json")
    assert (await post(sender, body, "ping")).status_code == 401
    assert (await post(sender, body, "ping", secret="rotated")).status_code == 200
