"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every operation in the document gets generated requests, valid and invalid, sent
in-process through ASGI (no network) with the bootstrap admin key, or with each
webhook's own credentials. Every response must be one the document promises:
a documented status code, the documented content type and schema, no 5xx, and
every error an `application/problem+json` problem document.

Every case goes to two apps, one on its own SQLite database and one on its own
PostgreSQL database: schemathesis drives them from its own event loop, so they
cannot share the suite's (per-loop) engines, and PostgreSQL refuses what SQLite
stores (a NUL character, say). A few rows are seeded so that generated path
parameters often name things that exist, and requests reach the rules behind the
lookups rather than stopping at 404.
"""

import asyncio
import atexit
import hashlib
import hmac
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation

from app.core.errors import PROBLEM_JSON
from app.main import create_app
from tests.conftest import (
    ADMIN_KEY,
    ALERTMANAGER_TOKEN,
    POSTGRES_URL,
    REQUIRE_POSTGRES,
    make_settings,
    plain_dsn,
)

GITHUB_SECRET = "fuzz-github-secret"
GITLAB_TOKEN = "fuzz-gitlab-token"
# Per operation; about 35 operations, each also gets its documented examples and
# schemathesis's coverage cases, so this is a few hundred requests in all.
EXAMPLES_PER_OPERATION = 12


def _app(database_url: str) -> FastAPI:
    return create_app(
        make_settings(
            database_url,
            github_webhook_secret=SecretStr(GITHUB_SECRET),
            gitlab_webhook_token=SecretStr(GITLAB_TOKEN),
        )
    )


_WORKDIR = Path(tempfile.mkdtemp(prefix="muster-fuzz-"))
app = _app(f"sqlite+aiosqlite:///{_WORKDIR / 'fuzz.db'}")
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
_POSTGRES_DATABASE = f"muster_fuzz_{uuid.uuid4().hex[:12]}"


async def _postgres(statement: str) -> bool:
    """Run `statement` on the PostgreSQL server; False when there is none (CI requires one)."""
    try:
        admin = await asyncpg.connect(plain_dsn(POSTGRES_URL), timeout=5)
    except (OSError, asyncpg.PostgresError):
        if REQUIRE_POSTGRES:
            raise
        return False
    try:
        await admin.execute(statement)
    finally:
        await admin.close()
    return True


def _drop_postgres() -> None:
    asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{_POSTGRES_DATABASE}" WITH (FORCE)'))


# Each case is sent to both: PostgreSQL refuses some text SQLite stores (NUL). The
# database is dropped at exit, also when no test of this module was selected.
APPS = [app]
if asyncio.run(_postgres(f'CREATE DATABASE "{_POSTGRES_DATABASE}"')):
    atexit.register(_drop_postgres)
    APPS.append(_app(f"{POSTGRES_URL.rpartition('/')[0]}/{_POSTGRES_DATABASE}"))

# Path parameter -> ids of seeded rows (filled in by the `seeded` fixture).
KNOWN: dict[str, list[str]] = {}


@schema.hook
def flatmap_case(_context: Any, case: Any) -> Any:
    """A valid generated path keeps its values, or names seeded rows instead."""
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    if not case.path_parameters or (path and path.mode == GenerationMode.NEGATIVE):
        return st.just(case)  # an invalid path stays invalid: it is what is being tested
    names = [name for name in KNOWN if name in case.path_parameters]
    every = {name: KNOWN[name][0] for name in names}
    one_each = [{name: known} for name in names for known in KNOWN[name]]

    def substitute(values: dict[str, str]) -> Any:
        case.path_parameters = case.path_parameters | values
        return case

    return st.sampled_from([{}, every, *one_each]).map(substitute)


def _call(application: FastAPI, method: str, path: str, body: Any, **path_parameters: str) -> Any:
    case = schema[path][method].Case(path_parameters=path_parameters, body=body)
    response = case.call(app=application, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code in (200, 201), response.text
    return response.json()


def _seed(application: FastAPI) -> dict[str, list[str]]:
    """An incident with a participant, a note, a rollback review, an update and a relation
    to a second incident; a deploy, a key."""
    incident = _call(
        application, "POST", "/api/v1/incidents", {"title": "Fuzzed", "services": ["checkout"]}
    )
    ref = incident["reference"]
    participant = _call(
        application,
        "POST",
        "/api/v1/incidents/{incident_id}/participants",
        {"handle": "alice", "role": "sre"},
        incident_id=ref,
    )
    entry = _call(
        application,
        "POST",
        "/api/v1/incidents/{incident_id}/timeline",
        {"kind": "note", "summary": "seeded"},
        incident_id=ref,
    )
    review = _call(
        application,
        "POST",
        "/api/v1/incidents/{incident_id}/rollback-reviews",
        {
            "service": "checkout",
            "environment": "production",
            "to_version": "1.0",
            "procedure": ["helm rollback"],
            "requested_by": "alice",
        },
        incident_id=ref,
    )
    other = _call(application, "POST", "/api/v1/incidents", {"title": "Related"})
    _call(
        application,
        "POST",
        "/api/v1/incidents/{incident_id}/relations",
        {"incident": other["reference"], "kind": "caused_by"},
        incident_id=ref,
    )
    _call(
        application,
        "POST",
        "/api/v1/incidents/{incident_id}/updates",
        {"message": "Investigating", "audience": "internal"},
        incident_id=ref,
    )
    deploy = _call(
        application,
        "POST",
        "/api/v1/deploys",
        {"service": "checkout", "environment": "production", "status": "succeeded"},
    )
    key = _call(
        application, "POST", "/api/v1/api-keys", {"name": "fuzz", "scopes": ["incidents:read"]}
    )
    return {
        "incident_id": [ref, incident["id"]],
        "other_id": [other["reference"]],
        "participant_id": [participant["id"]],
        "entry_id": [entry["id"]],
        "review_id": [review["id"]],
        "deploy_id": [deploy["id"]],
        "key_id": [key["id"]],
        "item_key": ["rollback_decided"],
        "name": ["checkout"],  # a service, seen in the incident above
    }


@pytest.fixture(scope="module", autouse=True)
def seeded() -> Iterator[None]:
    # Both apps get the same rows; ids differ, so a case names one app's row or the other's.
    for application in APPS:
        for name, ids in _seed(application).items():
            known = KNOWN.setdefault(name, [])
            known += [i for i in ids if i not in known]
    yield
    KNOWN.clear()
    shutil.rmtree(_WORKDIR, ignore_errors=True)


def errors_are_problem_documents(_ctx: Any, response: Any, _case: Any) -> bool | None:
    """Every 4xx/5xx is an RFC 9457 problem document."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type == PROBLEM_JSON, f"{response.status_code} answered as {content_type!r}"
    problem = json.loads(response.content)
    assert problem["status"] == response.status_code, problem
    assert problem["title"], problem
    assert problem["type"], problem
    return True


def _raw_body(body: Any) -> bytes:
    if isinstance(body, NotSet):
        return b""
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def _credentials(case: Any) -> dict[str, Any]:
    """The headers (and, for GitHub, the signed body) each operation authenticates with."""
    path = case.operation.path
    if path.endswith("/webhooks/alertmanager"):
        return {"headers": {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}}
    if path.endswith("/webhooks/gitlab"):
        return {"headers": {"X-Gitlab-Token": GITLAB_TOKEN}}
    if path.endswith("/webhooks/github"):
        body = _raw_body(case.body)
        signature = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return {"headers": {"X-Hub-Signature-256": f"sha256={signature}"}, "data": body}
    return {"headers": {"Authorization": f"Bearer {ADMIN_KEY}"}}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI failures reproduce
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_response_is_one_the_document_promises(case: Any) -> None:
    if case.operation.path == "/api/v1/events/stream":
        # Followed, the stream never ends: each case would wait out the 10 s read timeout.
        case.query = {**(case.query if isinstance(case.query, dict) else {}), "once": "true"}
    for application in APPS:
        case.call_and_validate(
            app=application,
            **_credentials(case),
            additional_checks=[errors_are_problem_documents],
            # A request valid by the schema may still break a rule no schema states:
            # cursors are opaque tokens the server issued, times may not lie in the
            # future, a referenced deploy must exist, bodies have a size limit. Those
            # answers are 4xx problems, which the other checks hold to the document.
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
        )
