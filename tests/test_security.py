"""Nobody gets in who does not belong, and no secret leaks out.

Every operation in the OpenAPI document is tried without credentials, with a key
that does not exist and with a key that may only read; webhooks with missing and
wrong credentials of their own scheme. A run of representative requests is logged
and searched for every secret. Secrets are compared with `hmac.compare_digest`.
"""

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.core.errors import PROBLEM_JSON
from app.core.logging import JsonFormatter
from app.core.security import hash_key
from tests.conftest import ADMIN_KEY, ALERTMANAGER_TOKEN, FIXTURES

PUBLIC = {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"}
# Reads that need more than incidents:read (admin, subscriptions:admin).
ADMIN_ONLY = (
    "/api/v1/api-keys",
    "/api/v1/audit-events",
    "/api/v1/subscriptions",
    "/api/v1/deliveries",
)
WEBHOOKS = {"/api/v1/webhooks/alertmanager", "/api/v1/webhooks/github", "/api/v1/webhooks/gitlab"}
# The join page's credential is its signed token (tests/engagement/test_join_link.py).
JOIN_LINK = "/join/"
GITHUB_SECRET = "security-github-secret-4f1c"
GITLAB_TOKEN = "security-gitlab-token-9a2e"
BASIC_AUTH = "alertmanager:security-basic-password-77d0"


@pytest.fixture
def secrets_configured(app: FastAPI) -> Iterator[None]:
    original = app.state.settings
    app.state.settings = original.model_copy(
        update={
            "github_webhook_secret": SecretStr(GITHUB_SECRET),
            "gitlab_webhook_token": SecretStr(GITLAB_TOKEN),
            "alertmanager_basic_auth": SecretStr(BASIC_AUTH),
        }
    )
    yield
    app.state.settings = original


async def _operations(
    client: httpx.AsyncClient, incident: str = "INC-999999"
) -> list[tuple[str, str]]:
    document = (await client.get("/openapi.json")).json()
    values = {"incident_id": incident, "item_key": "rollback_decided"}
    operations = []
    for template, item in document["paths"].items():
        path = template
        for name in [part[1:-1] for part in template.split("/") if part.startswith("{")]:
            path = path.replace(f"{{{name}}}", values.get(name, str(uuid.uuid4())))
        if path == "/api/v1/events/stream":
            path += "?once=true"  # a live stream would never end
        operations += [(method.upper(), path) for method in item]
    assert len(operations) > 30
    return operations


def _assert_problem(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, f"{what}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == PROBLEM_JSON, what


async def test_every_operation_refuses_anonymous_and_unknown_callers(client, anon_client):
    public_seen = set()
    for method, path in await _operations(client):
        if path in PUBLIC:
            public_seen.add(path)
            continue
        if path in WEBHOOKS:
            continue  # their own schemes: below
        what = f"{method} {path}"
        if path.startswith(JOIN_LINK):  # a made-up token is no credential
            _assert_problem(await anon_client.request(method, path), 404, what)
            continue
        anonymous = await anon_client.request(method, path, json={})
        _assert_problem(anonymous, 401, what)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        for key in ("mst_0123456789ab_not-a-real-key", "garbage", ADMIN_KEY + "x"):
            forged = await anon_client.request(
                method, path, json={}, headers={"Authorization": f"Bearer {key}"}
            )
            _assert_problem(forged, 401, f"{what} with {key}")
    assert public_seen == PUBLIC - {"/docs", "/openapi.json"}  # not in the document
    assert (await anon_client.get("/docs")).status_code == 200


async def test_a_read_only_key_may_read_but_not_write(client, anon_client):
    made = await client.post(
        "/api/v1/api-keys", json={"name": "reader", "scopes": ["incidents:read"]}
    )
    reader = {"Authorization": f"Bearer {made.json()['key']}"}
    incident = await client.post("/api/v1/incidents", json={"title": "t"})
    assert incident.status_code == 201
    reference = incident.json()["reference"]
    writes = 0
    # On an incident that exists and one that does not: the scope is checked first.
    operations = await _operations(client, reference) + await _operations(client)
    for method, path in operations:
        if path in PUBLIC or path in WEBHOOKS or path.startswith(JOIN_LINK):
            continue
        response = await anon_client.request(method, path, json={}, headers=reader)
        if method == "GET":
            admin_only = path.startswith(ADMIN_ONLY) or path.endswith("/revisions")
            assert response.status_code not in (401, 403) or admin_only, (path, response.text)
            continue
        writes += 1
        _assert_problem(response, 403, f"{method} {path}")
    assert writes >= 2 * 16
    assert (await client.get(f"/api/v1/incidents/{reference}")).json()["title"] == "t"


def _github_headers(body: bytes, secret: str) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
    }


def _basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.mark.usefixtures("client", "secrets_configured")  # client: empties the tables after
async def test_webhooks_refuse_missing_and_wrong_credentials(anon_client):
    alertmanager = (FIXTURES / "alertmanager" / "firing-two-alerts.json").read_bytes()
    refused: list[tuple[str, dict[str, str]]] = [
        ("/api/v1/webhooks/alertmanager", {}),
        ("/api/v1/webhooks/alertmanager", {"Authorization": "Bearer wrong"}),
        ("/api/v1/webhooks/alertmanager", {"Authorization": f"Bearer {ADMIN_KEY}"}),
        ("/api/v1/webhooks/alertmanager", {"Authorization": _basic("alertmanager:wrong")}),
        ("/api/v1/webhooks/alertmanager", {"Authorization": "Basic %%%not-base64"}),
        ("/api/v1/webhooks/alertmanager", {"Authorization": f"Basic {ALERTMANAGER_TOKEN}"}),
        ("/api/v1/webhooks/gitlab", {}),
        ("/api/v1/webhooks/gitlab", {"X-Gitlab-Token": "wrong"}),
        ("/api/v1/webhooks/gitlab", {"Authorization": f"Bearer {ADMIN_KEY}"}),
        ("/api/v1/webhooks/github", {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d"}),
        ("/api/v1/webhooks/github", _github_headers(alertmanager, "wrong-secret")),
        ("/api/v1/webhooks/github", _github_headers(alertmanager + b" ", GITHUB_SECRET)),
    ]
    for path, headers in refused:
        response = await anon_client.post(
            path, content=alertmanager, headers={"Content-Type": "application/json"} | headers
        )
        _assert_problem(response, 401, f"{path} with {headers}")
    accepted: list[tuple[str, dict[str, str]]] = [
        ("/api/v1/webhooks/alertmanager", {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}),
        ("/api/v1/webhooks/alertmanager", {"Authorization": _basic(BASIC_AUTH)}),
        ("/api/v1/webhooks/github", _github_headers(alertmanager, GITHUB_SECRET)),
    ]
    for path, headers in accepted:
        response = await anon_client.post(
            path, content=alertmanager, headers={"Content-Type": "application/json"} | headers
        )
        assert response.status_code < 300, (path, response.text)


@pytest.mark.usefixtures("secrets_configured")
async def test_secrets_never_appear_in_logs_or_responses(client, anon_client, caplog):
    caplog.set_level(logging.DEBUG)
    made = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["admin"]})
    key = made.json()["key"]
    assert made.headers["cache-control"] == "no-store"  # shown once, at creation
    secrets = [ADMIN_KEY, ALERTMANAGER_TOKEN, GITHUB_SECRET, GITLAB_TOKEN, BASIC_AUTH, key]
    secrets.append(BASIC_AUTH.split(":")[1])  # (the key's stored hash is no secret)

    responses = await _representative_requests(client, anon_client, key)
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "POST /api/v1/webhooks/github" in logged  # the run was logged
    for response in responses:
        seen = response.text + json.dumps(dict(response.headers))
        for secret in secrets:
            assert secret not in seen, (response.request.url, secret)
    for secret in secrets:
        assert secret not in logged, secret


async def _representative_requests(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, key: str
) -> list[httpx.Response]:
    as_key = {"Authorization": f"Bearer {key}"}
    alertmanager = (FIXTURES / "alertmanager" / "firing-two-alerts.json").read_bytes()
    gitlab = (FIXTURES / "gitlab" / "deployment.json").read_bytes()
    github = (FIXTURES / "github" / "deployment_status-payload.json").read_bytes()
    json_type = {"Content-Type": "application/json"}
    github_headers = _github_headers(github, GITHUB_SECRET) | {
        "X-GitHub-Event": "deployment_status"
    }
    calls: list[Any] = [
        client.get("/api/v1/api-keys"),
        anon_client.get("/api/v1/incidents", headers=as_key),
        anon_client.post("/api/v1/incidents", json={"title": "leak?"}, headers=as_key),
        anon_client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {key}x"}),
        anon_client.post(
            "/api/v1/webhooks/alertmanager",
            content=alertmanager,
            headers=json_type | {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
        ),
        anon_client.post(
            "/api/v1/webhooks/alertmanager",
            content=alertmanager,
            headers=json_type | {"Authorization": _basic(BASIC_AUTH)},
        ),
        anon_client.post(
            "/api/v1/webhooks/alertmanager",
            content=alertmanager,
            headers=json_type | {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}x"},
        ),
        anon_client.post(
            "/api/v1/webhooks/gitlab",
            content=gitlab,
            headers=json_type | {"X-Gitlab-Token": GITLAB_TOKEN},
        ),
        anon_client.post(
            "/api/v1/webhooks/gitlab",
            content=gitlab,
            headers=json_type | {"X-Gitlab-Token": GITLAB_TOKEN + "x"},
        ),
        anon_client.post("/api/v1/webhooks/github", content=github, headers=github_headers),
        client.get("/openapi.json"),
        client.get("/metrics"),
        client.get("/readyz"),
    ]
    responses = [await call for call in calls]
    assert [r.status_code for r in responses] == [
        200, 200, 201, 401, 200, 200, 401, 200, 401, 200, 200, 200, 200,
    ]  # fmt: skip
    return responses


@pytest.mark.usefixtures("secrets_configured")
async def test_secrets_are_compared_in_constant_time(client, anon_client, monkeypatch):
    made = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["admin"]})
    key = made.json()["key"]
    compared: list[tuple[bytes | str, bytes | str]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)

    def was_compared(expected: bytes | str) -> bool:
        found = any(expected in pair for pair in compared)
        compared.clear()
        return found

    alertmanager = (FIXTURES / "alertmanager" / "firing-two-alerts.json").read_bytes()
    json_type = {"Content-Type": "application/json"}

    await anon_client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert was_compared(ADMIN_KEY.encode()), "bootstrap admin key"
    await anon_client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {key}"})
    assert was_compared(hash_key(key)), "API key (its stored hash)"
    await anon_client.post(
        "/api/v1/webhooks/alertmanager",
        content=alertmanager,
        headers=json_type | {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
    )
    assert was_compared(ALERTMANAGER_TOKEN.encode()), "Alertmanager bearer token"
    await anon_client.post(
        "/api/v1/webhooks/alertmanager",
        content=alertmanager,
        headers=json_type | {"Authorization": _basic(BASIC_AUTH)},
    )
    assert was_compared(BASIC_AUTH.encode()), "Alertmanager basic auth"
    await anon_client.post(
        "/api/v1/webhooks/gitlab",
        content=b"{}",
        headers=json_type | {"X-Gitlab-Token": GITLAB_TOKEN},
    )
    assert was_compared(GITLAB_TOKEN.encode()), "GitLab token"
    signature = hmac.new(GITHUB_SECRET.encode(), alertmanager, hashlib.sha256).hexdigest()
    await anon_client.post(
        "/api/v1/webhooks/github",
        content=alertmanager,
        headers=_github_headers(alertmanager, GITHUB_SECRET),
    )
    assert was_compared(signature.encode()), "GitHub signature"
