import json
from typing import Any

import pytest

from app.core.errors import PROBLEM_JSON
from app.deploys.models import Deploy
from app.integrations.models import InboundDelivery
from tests.deploys.helpers import count, deploy_events
from tests.integrations.conftest import GITLAB_TOKEN, fixture_bytes, fixture_json

URL = "/api/v1/webhooks/gitlab"
DEPLOYMENT = "gitlab/deployment.json"
SHA = "bcbb5ec396a2c0f828686f14fac9b80b780504f2"


def job(job_id: int, name: str, status: str, environment: dict[str, Any] | None = None, **times):
    return {
        "id": job_id,
        "stage": "deploy" if environment else "test",
        "name": name,
        "status": status,
        "created_at": "2016-08-12 15:23:28 UTC",
        "started_at": times.get("started_at"),
        "finished_at": times.get("finished_at"),
        "when": "on_success",
        "manual": False,
        "allow_failure": False,
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "runner": None,
        "artifacts_file": {"filename": None, "size": None},
        "environment": environment,
    }


def pipeline(*jobs: dict[str, Any], pipeline_id: int = 31) -> dict[str, Any]:
    """A Pipeline Hook body, shaped like GitLab's (written for these tests)."""
    return {
        "object_kind": "pipeline",
        "object_attributes": {
            "id": pipeline_id,
            "iid": 3,
            "ref": "main",
            "tag": False,
            "sha": SHA,
            "source": "push",
            "status": "running",
            "stages": ["test", "deploy"],
            "created_at": "2016-08-12 15:23:28 UTC",
            "finished_at": None,
            "duration": None,
            "url": f"http://gitlab.example.com/shop/checkout/-/pipelines/{pipeline_id}",
        },
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "project": {
            "id": 1,
            "name": "Checkout Service",
            "path_with_namespace": "shop/checkout",
            "web_url": "http://gitlab.example.com/shop/checkout",
        },
        "commit": {"id": SHA, "message": "Ship it", "timestamp": "2016-08-12T17:23:21+02:00"},
        "builds": list(jobs),
    }


PRODUCTION = {"name": "production", "action": "start", "deployment_tier": "production"}
STAGING = {"name": "staging", "action": "start", "deployment_tier": "staging"}


async def post(sender, body: bytes | dict[str, Any], token: str | None = GITLAB_TOKEN, **headers):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", "X-Gitlab-Event": "Pipeline Hook"} | headers
    if token is not None:
        sent["X-Gitlab-Token"] = token
    return await sender.post(URL, content=content, headers=sent)


async def get(client, deploy_id: str) -> dict[str, Any]:
    return (await client.get(f"/api/v1/deploys/{deploy_id}")).json()


async def test_deployment_fixture_records_a_deploy(sender, client, database):
    response = await post(
        sender, fixture_bytes(DEPLOYMENT), **{"X-Gitlab-Event": "Deployment Hook"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "recorded"
    deploy = await get(client, response.json()["deploy_id"])
    assert deploy | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "source": "gitlab",
        "external_id": "deployment:15",
        "kind": "deploy",
        "service": "test-deployment-webhooks",
        "environment": "staging",
        "version": "279484c0",
        "commit_sha": "279484c09fbe69ededfced8c1bb6e6d24616b468",
        "status": "succeeded",
        "started_at": "2021-04-28T19:50:00Z",  # 21:50 at +0200; no start time was reported
        "finished_at": "2021-04-28T19:50:00Z",
        "url": "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796",
        "actor": "root",
        "committed_at": None,
        "unprotected": False,
        "missing_measures": [],
        "created_at": None,
        "updated_at": None,
    }
    assert [event["id"] for event in await deploy_events(database)] == [deploy["id"]]


async def test_running_then_success_updates_one_deploy(sender, client, database):
    running = fixture_json(DEPLOYMENT) | {
        "status": "running",
        "status_changed_at": "2021-04-28 21:45:00 +0200",
    }
    first = await post(sender, running)
    assert first.json()["status"] == "recorded"
    done = await post(sender, fixture_bytes(DEPLOYMENT))
    assert done.json()["status"] == "updated"
    assert done.json()["deploy_id"] == first.json()["deploy_id"]

    deploy = await get(client, first.json()["deploy_id"])
    assert (deploy["status"], deploy["started_at"], deploy["finished_at"]) == (
        "succeeded",
        "2021-04-28T19:45:00Z",
        "2021-04-28T19:50:00Z",
    )
    assert await count(database, Deploy) == 1
    assert [event["status"] for event in await deploy_events(database)] == [
        "started",
        "succeeded",
    ]


@pytest.mark.parametrize("status", ["failed", "canceled"])
async def test_failed_or_canceled_deployment_is_failed(sender, client, status):
    body = fixture_json(DEPLOYMENT) | {"status": status}
    deploy = await get(client, (await post(sender, body)).json()["deploy_id"])
    assert deploy["status"] == "failed"


async def test_service_map_uses_the_full_project_path(sender, client, configure):
    configure(gitlab_service_map={"root/test-deployment-webhooks": "deploy-hooks"})
    response = await post(sender, fixture_bytes(DEPLOYMENT))
    assert (await get(client, response.json()["deploy_id"]))["service"] == "deploy-hooks"


async def test_retried_delivery_is_a_duplicate(sender, database):
    body = fixture_bytes(DEPLOYMENT)
    assert (await post(sender, body)).json()["status"] == "recorded"
    assert (await post(sender, body)).json()["status"] == "duplicate"  # same body, no key
    keyed = {"Idempotency-Key": "9f1d5a2e-0000-4000-8000-000000000001"}
    assert (await post(sender, fixture_json(DEPLOYMENT) | {"status": "running"}, **keyed)).json()[
        "status"
    ] == "updated"
    # A retry carries the same Idempotency-Key, whatever its body: nothing more happens.
    again = await post(sender, fixture_json(DEPLOYMENT) | {"status": "failed"}, **keyed)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert await count(database, Deploy) == 1
    assert await count(database, InboundDelivery) == 2
    assert [event["status"] for event in await deploy_events(database)] == ["succeeded"]


async def test_hooks_sharing_an_event_uuid_are_not_deduplicated(sender, database):
    # GitLab gives every hook caused by a webhook-triggered action the same event UUID.
    uuid_header = {"X-Gitlab-Event-UUID": "62cfb6a8-2e50-4c1b-9f6d-6e5f1c0e5a10"}
    other = fixture_json(DEPLOYMENT) | {"deployment_id": 16}
    assert (await post(sender, fixture_bytes(DEPLOYMENT), **uuid_header)).status_code == 200
    assert (await post(sender, other, **uuid_header)).json()["status"] == "recorded"
    assert await count(database, Deploy) == 2


async def test_pipeline_records_one_deploy_per_environment(sender, client, database):
    body = pipeline(
        job(380, "unit-tests", "success"),
        job(
            381,
            "deploy-staging",
            "success",
            STAGING,
            **{
                "started_at": "2016-08-12 15:24:00 UTC",
                "finished_at": "2016-08-12 15:26:30 UTC",
            },
        ),
        job(382, "deploy-production", "running", PRODUCTION, started_at="2016-08-12 15:27:00 UTC"),
        job(383, "stop-review", "success", {"name": "review/fix-1", "action": "stop"}),
        job(384, "deploy-canary", "manual", {"name": "canary", "action": "start"}),
    )
    response = await post(sender, body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "recorded"
    deploys = [await get(client, deploy_id) for deploy_id in response.json()["deploy_ids"]]
    summary = {d["environment"]: (d["status"], d["started_at"], d["finished_at"]) for d in deploys}
    assert summary == {
        "staging": ("succeeded", "2016-08-12T15:24:00Z", "2016-08-12T15:26:30Z"),
        "production": ("started", "2016-08-12T15:27:00Z", None),
    }
    production = next(d for d in deploys if d["environment"] == "production")
    assert {k: production[k] for k in ("external_id", "service", "version", "commit_sha")} == {
        "external_id": "pipeline:31:production",
        "service": "checkout",
        "version": "main",
        "commit_sha": SHA,
    }
    assert production["url"] == "http://gitlab.example.com/shop/checkout/-/pipelines/31"

    # The next hook of the same pipeline: production finished, after one retry.
    body["builds"][2] |= {"status": "failed", "finished_at": "2016-08-12 15:28:00 UTC"}
    body["builds"].append(
        job(
            385,
            "deploy-production",
            "success",
            PRODUCTION,
            **{
                "started_at": "2016-08-12 15:29:00 UTC",
                "finished_at": "2016-08-12 15:31:05 UTC",
            },
        )
    )
    update = await post(sender, body)
    assert update.json()["status"] == "updated"
    assert await get(client, production["id"]) | {"updated_at": None} == production | {
        "status": "succeeded",
        "started_at": "2016-08-12T15:29:00Z",
        "finished_at": "2016-08-12T15:31:05Z",
        "updated_at": None,
    }
    assert await count(database, Deploy) == 2


async def test_failed_deploy_job_fails_its_environment(sender, client):
    body = pipeline(
        job(1, "deploy-api", "success", PRODUCTION, finished_at="2016-08-12 15:30:00 UTC"),
        job(2, "deploy-worker", "failed", PRODUCTION, finished_at="2016-08-12 15:31:00 UTC"),
    )
    response = await post(sender, body)
    deploy = await get(client, response.json()["deploy_id"])
    assert (deploy["status"], deploy["finished_at"]) == ("failed", "2016-08-12T15:31:00Z")


async def test_pipeline_without_deploy_jobs_is_ignored(sender, database):
    body = pipeline(job(1, "unit-tests", "success"), job(2, "lint", "failed"))
    response = await post(sender, body)
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert await count(database, Deploy) == 0


async def test_other_object_kinds_are_ignored(sender, database):
    push = {"object_kind": "push", "ref": "refs/heads/main", "project": {"name": "x"}}
    response = await post(sender, push, **{"X-Gitlab-Event": "Push Hook"})
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert await count(database, InboundDelivery) == 0


@pytest.mark.parametrize("token", ["wrong-token", None, GITLAB_TOKEN + "x", ""])
async def test_wrong_or_missing_token_is_401(sender, database, token):
    response = await post(sender, fixture_bytes(DEPLOYMENT), token=token)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert await count(database, Deploy) == 0


async def test_unset_token_is_503(sender, database, configure):
    configure(gitlab_webhook_token=None)
    response = await post(sender, fixture_bytes(DEPLOYMENT))
    assert response.status_code == 503
    assert "MUSTER_GITLAB_WEBHOOK_TOKEN" in response.json()["detail"]
    assert await count(database, Deploy) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status_changed_at": "yesterday"}, "body.status_changed_at"),
        ({"status_changed_at": "2021-04-28 21:50:00"}, "body.status_changed_at"),
        ({"deployment_id": None}, "body.deployment_id"),
        ({"environment": ""}, "deploy.environment"),
    ],
)
async def test_invalid_payload_is_422_naming_the_field(sender, database, change, field):
    response = await post(sender, fixture_json(DEPLOYMENT) | change)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert field in {error["field"] for error in response.json()["errors"]}
    assert await count(database, Deploy) == 0
    assert await count(database, InboundDelivery) == 0


async def test_pipeline_job_with_bad_time_is_422(sender):
    body = pipeline(job(1, "deploy", "success", PRODUCTION, finished_at="12/08/2016"))
    response = await post(sender, body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.builds.0.finished_at"


async def test_not_json_is_400(sender):
    response = await post(sender, b"object_kind=deployment")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
