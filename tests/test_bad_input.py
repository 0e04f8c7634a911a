"""Garbage in, nothing written: every write endpoint refuses bad input with a 4xx problem.

One table row per write endpoint (POST, PATCH, DELETE under /api/v1), each with a
valid request; the test derives the bad ones from it (wrong types, missing fields,
huge strings, deep JSON, invalid UTF-8, wrong or no content type, empty and
oversized bodies, unknown enum values, ids that belong to another incident or to
nothing) and checks that each is a problem document and that no table gained or lost
a row, nor the incident under test changed. Webhooks may also answer 202 `ignored`
(the senders' contract), provided nothing is written. Text that only looks like SQL
or Markdown is legitimate input: it is stored and read back verbatim.
"""

import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.core.db import Database
from app.core.errors import PROBLEM_JSON
from app.models import metadata
from tests.conftest import ADMIN_KEY, ALERTMANAGER_TOKEN, FIXTURES
from tests.factories import count_rows, join, make_incident

GITHUB_SECRET = "bad-input-github-secret"
GITLAB_TOKEN = "bad-input-gitlab-token"
HUGE = "x" * 300_000  # well under the 1 MiB body limit: the field's own limit must refuse it
DEEP = b"[" * 10_000 + b"]" * 10_000


@dataclass
class Endpoint:
    name: str
    method: str
    path: str  # formatted with the ids of the world below
    body: dict[str, Any] | None = None  # a valid body
    typed: list[str] = field(default_factory=list)  # (dotted) fields to give a wrong type
    strings: list[str] = field(default_factory=list)  # string fields to make huge
    required: str | None = None
    enum: str | None = None
    foreign: str | None = None  # the path naming another incident's row
    sender: str = "api"  # or "alertmanager", "github", "gitlab"
    extra_fields_refused: bool = True


def _fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


INCIDENT = "/api/v1/incidents/{a}"
ENDPOINTS = [
    Endpoint(
        "create incident",
        "POST",
        "/api/v1/incidents",
        {"title": "t", "summary": "s", "severity": "sev2", "services": ["a"], "labels": {}},
        typed=["title", "summary", "severity", "services", "labels"],
        strings=["title", "summary"],
        required="title",
        enum="severity",
    ),
    Endpoint(
        "change incident",
        "PATCH",
        INCIDENT,
        {"title": "t2", "summary": "s2", "status": "acknowledged", "commander": "alice"},
        typed=["title", "summary", "status", "commander"],
        strings=["title", "summary", "commander"],
        enum="status",
    ),
    Endpoint(
        "join",
        "POST",
        INCIDENT + "/participants",
        {"handle": "carol", "name": "Carol", "team": "sre", "role": "sre"},
        typed=["handle", "name", "team", "role"],
        strings=["handle", "name", "team"],
        required="handle",
        enum="role",
    ),
    Endpoint(
        "change role",
        "PATCH",
        INCIDENT + "/participants/{a_participant}",
        {"role": "commander"},
        typed=["role"],
        required="role",
        enum="role",
        foreign=INCIDENT + "/participants/{b_participant}",
    ),
    Endpoint(
        "leave",
        "DELETE",
        INCIDENT + "/participants/{a_participant}",
        foreign=INCIDENT + "/participants/{b_participant}",
    ),
    Endpoint(
        "add timeline entry",
        "POST",
        INCIDENT + "/timeline",
        {"kind": "note", "summary": "s", "body": "b", "author": "alice", "data": {"k": 1}},
        typed=["kind", "summary", "body", "author", "data"],
        strings=["summary", "body", "author", "data.k"],
        required="summary",
        enum="kind",
    ),
    Endpoint(
        "correct timeline entry",
        "PATCH",
        INCIDENT + "/timeline/{a_entry}",
        {"summary": "s2", "body": "b2", "data": {"k": 2}},
        typed=["summary", "body", "data"],
        strings=["summary", "body", "data.k"],
        enum="kind",
        foreign=INCIDENT + "/timeline/{b_entry}",
    ),
    Endpoint(
        "delete timeline entry",
        "DELETE",
        INCIDENT + "/timeline/{a_entry}",
        foreign=INCIDENT + "/timeline/{b_entry}",
    ),
    Endpoint(
        "tick checklist item",
        "PATCH",
        INCIDENT + "/checklist/rollback_decided",
        {"done": True, "note": "no: config only", "by": "alice"},
        typed=["done", "note", "by"],
        strings=["note", "by"],
    ),
    Endpoint(
        "propose rollback",
        "POST",
        INCIDENT + "/rollback-reviews",
        {
            "service": "checkout",
            "environment": "production",
            "to_version": "1.0",
            "procedure": ["helm rollback"],
            "risks": "none",
            "requested_by": "alice",
        },
        typed=["service", "environment", "to_version", "procedure", "requested_by"],
        strings=["service", "environment", "to_version", "risks", "requested_by"],
        required="to_version",
    ),
    Endpoint(
        "decide rollback",
        "POST",
        INCIDENT + "/rollback-reviews/{a_review}/decision",
        {"decision": "approve", "reviewer": "bob", "comment": "ok"},
        typed=["decision", "reviewer", "comment"],
        strings=["reviewer", "comment"],
        required="reviewer",
        enum="decision",
        foreign=INCIDENT + "/rollback-reviews/{b_review}/decision",
    ),
    Endpoint(
        "execute rollback",
        "POST",
        INCIDENT + "/rollback-reviews/{a_review}/execution",
        {"executed_by": "bob", "outcome": "succeeded", "note": "done"},
        typed=["executed_by", "outcome", "note"],
        strings=["executed_by", "note"],
        required="executed_by",
        enum="outcome",
        foreign=INCIDENT + "/rollback-reviews/{b_review}/execution",
    ),
    Endpoint(
        "verify rollback",
        "POST",
        INCIDENT + "/rollback-reviews/{a_review}/verification",
        {"verified_by": "bob", "result": "recovered", "note": "ok", "mark_mitigated": True},
        typed=["verified_by", "result", "note", "mark_mitigated"],
        strings=["verified_by", "note"],
        required="verified_by",
        enum="result",
        foreign=INCIDENT + "/rollback-reviews/{b_review}/verification",
    ),
    Endpoint(
        "record deploy",
        "POST",
        "/api/v1/deploys",
        {
            "service": "checkout",
            "environment": "production",
            "status": "succeeded",
            "version": "2.0",
            "url": "https://ci.example/1",
            "external_id": "ci-1",
        },
        typed=["service", "environment", "status", "version", "url", "external_id"],
        strings=["service", "environment", "version", "url", "external_id"],
        required="service",
        enum="status",
    ),
    Endpoint(
        "add action item",
        "POST",
        INCIDENT + "/action-items",
        {
            "title": "Canary deploys",
            "kind": "prevent",
            "due": "2026-12-20",
            "tracker_url": "https://tracker.example/OPS-1",
            "external_id": "OPS-1",
            "rollout": [{"service": "checkout"}],
        },
        typed=["title", "kind", "due", "tracker_url", "external_id", "rollout"],
        strings=["title", "tracker_url", "external_id"],
        required="title",
        enum="kind",
    ),
    Endpoint(
        "add contributing factor",
        "POST",
        INCIDENT + "/contributing-factors",
        {"category": "capacity", "description": "The pool was too small", "services": ["db"]},
        typed=["category", "description", "services"],
        strings=["category", "description", "services.0"],
        required="category",
        enum="category",
    ),
    Endpoint(
        "remove contributing factor",
        "DELETE",
        INCIDENT + "/contributing-factors/{a_factor}",
        foreign=INCIDENT + "/contributing-factors/{b_factor}",
    ),
    Endpoint(
        "write retrospective",
        "PUT",
        INCIDENT + "/postmortem",
        {"summary": "What happened", "what_went_well": "- fast rollback", "notes": "n"},
        typed=["summary", "what_went_well", "notes"],
        strings=["summary", "what_went_well", "notes"],
    ),
    Endpoint("send retrospective for review", "POST", INCIDENT + "/postmortem/review"),
    Endpoint("publish retrospective", "POST", INCIDENT + "/postmortem/publish"),
    Endpoint(
        "create API key",
        "POST",
        "/api/v1/api-keys",
        {"name": "ci", "scopes": ["deploys:write"]},
        typed=["name", "scopes"],
        strings=["name"],
        required="name",
    ),
    Endpoint("revoke API key", "DELETE", "/api/v1/api-keys/{key}"),
    Endpoint(
        "Alertmanager notification",
        "POST",
        "/api/v1/webhooks/alertmanager",
        _fixture("alertmanager/firing-two-alerts.json"),
        typed=["version", "status", "groupKey", "alerts", "alerts.0.labels", "alerts.0.startsAt"],
        strings=["groupKey", "alerts.0.fingerprint", "alerts.0.labels.alertname"],
        required="groupKey",
        enum="status",
        sender="alertmanager",
        extra_fields_refused=False,  # newer Alertmanagers add fields: accepted by design
    ),
    Endpoint(
        "GitHub deployment status",
        "POST",
        "/api/v1/webhooks/github",
        _fixture("github/deployment_status-payload.json"),
        typed=["deployment", "deployment.id", "deployment.created_at", "repository"],
        strings=["deployment.environment", "repository.name", "deployment.sha"],
        required="deployment",
        sender="github",
        extra_fields_refused=False,
    ),
    Endpoint(
        "GitLab deployment",
        "POST",
        "/api/v1/webhooks/gitlab",
        _fixture("gitlab/deployment.json"),
        typed=["deployment_id", "status_changed_at", "project", "environment"],
        strings=["environment", "project.path_with_namespace", "short_sha"],
        required="deployment_id",
        sender="gitlab",
        extra_fields_refused=False,
    ),
]


def _set(body: Any, dotted: str, value: Any) -> Any:
    changed = copy.deepcopy(body)
    *parents, last = dotted.split(".")
    target = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return changed


def _get(body: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, str):
        return 12345
    if isinstance(value, int | float):
        return "twelve"
    if isinstance(value, list):
        return {"not": "a list"}
    return ["not", "an object"]


def _bad_requests(endpoint: Endpoint) -> Iterator[tuple[str, str, bytes | None, str | None]]:
    """(label, path, body, content type) for every bad request derived from `endpoint`."""
    path, valid = endpoint.path, endpoint.body
    yield "unknown id", path.replace("{a_", "{unknown_").replace("{key}", "{unknown}"), None, None
    if endpoint.foreign:
        yield "another incident's id", endpoint.foreign, None, None
    if "{" in path.replace("{a}", ""):
        yield "malformed id", path.rsplit("/", 1)[0] + "/not-a-uuid", None, None
    json_type = "application/json"
    over = b'{"x": "' + b"y" * (1024 * 1024) + b'"}'
    yield "body over the limit", path, over, json_type
    if valid is None:
        return
    encoded = json.dumps(valid).encode()
    yield "invalid UTF-8", path, b'{"x": "\xff\xfe\xfd"}', json_type
    yield "deep JSON", path, b'{"x": ' + DEEP + b"}", json_type
    yield "empty body", path, b"", json_type
    yield "null body", path, b"null", json_type
    yield "array body", path, json.dumps([valid]).encode(), json_type
    yield "text/plain", path, encoded, "text/plain"
    yield "form-encoded", path, b"title=t", "application/x-www-form-urlencoded"
    yield "no content type", path, encoded, None
    for name in endpoint.typed:
        wrong = _set(valid, name, _wrong_type(_get(valid, name)))
        yield f"wrong type: {name}", path, json.dumps(wrong).encode(), json_type
    for name in endpoint.strings:
        yield f"huge: {name}", path, json.dumps(_set(valid, name, HUGE)).encode(), json_type
    if endpoint.required:
        missing = {k: v for k, v in valid.items() if k != endpoint.required}
        yield f"missing: {endpoint.required}", path, json.dumps(missing).encode(), json_type
    if endpoint.enum:
        unknown = _set(valid, endpoint.enum, "not-a-value")
        yield f"unknown enum: {endpoint.enum}", path, json.dumps(unknown).encode(), json_type
    if endpoint.extra_fields_refused:
        extra = {**valid, "unexpected": 1}
        yield "unknown field", path, json.dumps(extra).encode(), json_type


@pytest.fixture
def webhook_secrets(app: FastAPI) -> Iterator[None]:
    original = app.state.settings
    app.state.settings = original.model_copy(
        update={
            "github_webhook_secret": SecretStr(GITHUB_SECRET),
            "gitlab_webhook_token": SecretStr(GITLAB_TOKEN),
        }
    )
    yield
    app.state.settings = original


def _headers(endpoint: Endpoint, body: bytes | None, content_type: str | None) -> dict[str, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    if endpoint.sender == "alertmanager":
        return headers | {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
    if endpoint.sender == "github":
        signature = hmac.new(GITHUB_SECRET.encode(), body or b"", hashlib.sha256).hexdigest()
        return headers | {
            "X-GitHub-Event": "deployment_status",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={signature}",
        }
    if endpoint.sender == "gitlab":
        return headers | {"X-Gitlab-Token": GITLAB_TOKEN}
    return headers | {"Authorization": f"Bearer {ADMIN_KEY}"}


async def _world(client: httpx.AsyncClient) -> dict[str, str]:
    """Two incidents, each with a participant, a note and a proposed rollback; an API key."""
    ids: dict[str, str] = {}
    for side, person in (("a", "alice"), ("b", "bob")):
        incident = await make_incident(client, title=f"incident {side}")
        url = f"/api/v1/incidents/{incident['id']}"
        ids[side] = incident["id"]
        ids[f"{side}_participant"] = (await join(client, incident, person, "sre"))["id"]
        note = {"kind": "note", "summary": "seen"}
        ids[f"{side}_entry"] = (await client.post(f"{url}/timeline", json=note)).json()["id"]
        review = {
            "service": "checkout",
            "environment": "production",
            "to_version": "1.0",
            "procedure": ["helm rollback"],
            "requested_by": person,
        }
        response = await client.post(f"{url}/rollback-reviews", json=review)
        assert response.status_code == 201, response.text
        ids[f"{side}_review"] = response.json()["id"]
        factor = {"category": "process", "description": "no runbook"}
        response = await client.post(f"{url}/contributing-factors", json=factor)
        ids[f"{side}_factor"] = response.json()["id"]
    key = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["admin"]})
    ids["key"] = key.json()["id"]
    for name in ("participant", "entry", "review", "factor"):
        ids[f"unknown_{name}"] = str(uuid.uuid4())
    ids["unknown"] = str(uuid.uuid4())
    return ids


async def _state(client: httpx.AsyncClient, database: Database, ids: dict[str, str]) -> Any:
    # The audit trail records every refused write: that is the one change bad input makes.
    tables = sorted(set(metadata.tables) - {"audit_events"})
    counts = {table: await count_rows(database, table) for table in tables}
    url = f"/api/v1/incidents/{ids['a']}"
    views = [
        (await client.get(f"{url}{part}", params={"limit": 200} if part else None)).json()
        for part in (
            "",
            "/participants",
            "/timeline",
            "/checklist",
            "/rollback-reviews",
            "/contributing-factors",
            "/action-items",
        )
    ]
    keys = (await client.get("/api/v1/api-keys")).json()
    return counts, views, [(k["id"], k["revoked_at"]) for k in keys["items"]]


def _refused(endpoint: Endpoint, response: httpx.Response) -> str | None:
    """Why `response` is not an acceptable answer to bad input, or None."""
    if endpoint.sender in ("github", "gitlab") and response.status_code == 202:
        return None if response.json()["status"] == "ignored" else "202 without ignoring"
    if not 400 <= response.status_code < 500:
        return f"{response.status_code} {response.text[:200]}"
    if response.headers.get("content-type") != PROBLEM_JSON:
        return f"{response.status_code} as {response.headers.get('content-type')}"
    if response.json().get("status") != response.status_code:
        return f"problem status {response.json().get('status')} != {response.status_code}"
    return None


@pytest.mark.usefixtures("webhook_secrets")
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
async def test_bad_input_is_refused_and_changes_nothing(client, database, endpoint):
    ids = await _world(client)
    before = await _state(client, database, ids)
    wrong = []
    for label, path, body, content_type in _bad_requests(endpoint):
        headers = _headers(endpoint, body, content_type)
        response = await client.request(
            endpoint.method, path.format(**ids), content=body, headers=headers
        )
        if (why := _refused(endpoint, response)) is not None:
            wrong.append(f"{label}: {why}")
    assert wrong == [], f"{endpoint.name}:\n" + "\n".join(wrong)
    assert await _state(client, database, ids) == before


SQL = "'; DROP TABLE incidents; -- \" OR 1=1 /*"
MARKDOWN = "**bold** <script>alert(1)</script> [x](javascript:alert(1)) | a | b |\n# h1"


@pytest.mark.parametrize("text", [SQL, MARKDOWN], ids=["sql", "markdown"])
async def test_text_that_looks_like_code_is_stored_verbatim(client, database, text):
    incident = await make_incident(client, title=text, summary=text, labels={"k": text})
    url = f"/api/v1/incidents/{incident['id']}"
    note = {"kind": "note", "summary": text, "body": text, "author": "alice", "data": {"q": text}}
    entry = await client.post(f"{url}/timeline", json=note)
    assert entry.status_code == 201, entry.text
    read = (await client.get(url)).json()
    assert (read["title"], read["summary"], read["labels"]) == (text, text, {"k": text})
    stored = (await client.get(f"{url}/timeline", params={"kind": "note"})).json()["items"][0]
    assert (stored["summary"], stored["body"], stored["data"]) == (text, text, {"q": text})
    found = (await client.get("/api/v1/incidents", params={"q": text[:20]})).json()["items"]
    assert [i["id"] for i in found] == [incident["id"]]
    assert await count_rows(database, "incidents") == 1


NUL = "before\x00after"


async def test_a_nul_character_is_refused_where_the_database_cannot_store_it(
    client, database, backend
):
    """PostgreSQL stores no NUL (U+0000), in text or in JSON: 422, nothing written, for
    a body, a query and a webhook alike. SQLite stores it and gives it back."""
    incident = await make_incident(client, title="with a timeline")
    url = f"/api/v1/incidents/{incident['id']}"
    am = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
    alert = _fixture("alertmanager/firing-two-alerts.json")
    alert["alerts"][0]["labels"]["instance"] = NUL
    requests = [
        ("POST", "/api/v1/incidents", {"json": {"title": NUL}}),
        ("POST", "/api/v1/incidents", {"json": {"title": "t", "labels": {"k": NUL}}}),
        ("POST", f"{url}/timeline", {"json": {"kind": "note", "summary": "s", "data": {NUL: 1}}}),
        ("GET", "/api/v1/incidents", {"params": {"q": NUL}}),
        ("POST", "/api/v1/webhooks/alertmanager", {"json": alert, "headers": am}),
    ]
    responses = [await client.request(method, path, **kw) for method, path, kw in requests]
    if backend == "postgres":
        for response in responses:
            problem = response.json()
            assert (response.status_code, problem["status"]) == (422, 422), response.text
            assert "NUL character (U+0000)" in problem["detail"]
        assert await count_rows(database, "incidents") == 1
        assert await count_rows(database, "timeline_entries") == 1
        assert await count_rows(database, "alert_notifications") == 0
    else:
        assert [r.status_code for r in responses] == [201, 201, 201, 200, 200]
        titled, labelled = responses[0].json(), responses[1].json()
        assert titled["title"] == NUL
        read = await client.get(f"/api/v1/incidents/{labelled['id']}")
        assert read.json()["labels"] == {"k": NUL}
