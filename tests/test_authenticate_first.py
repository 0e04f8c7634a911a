"""The caller is checked before the request body is read, let alone parsed."""

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.core.errors import PROBLEM_JSON
from app.core.security import AuthenticatedRoute, gates_of
from tests.conftest import ALERTMANAGER_TOKEN

BAD_BODY = b"{bad"


class Body:
    """A request body that notes whether anyone read it."""

    def __init__(self, content: bytes = BAD_BODY) -> None:
        self.content, self.read = content, False

    async def __aiter__(self):
        self.read = True
        yield self.content


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/incidents", {}),
        ("/api/v1/incidents", {"Authorization": "Bearer mst_000000000000_unknown"}),
        ("/api/v1/subscriptions", {"Authorization": "Basic YTpi"}),
        ("/api/v1/deploys", {}),
        ("/api/v1/api-keys", {}),
        ("/api/v1/webhooks/alertmanager", {}),
        ("/api/v1/webhooks/alertmanager", {"Authorization": "Bearer wrong"}),
    ],
)
async def test_an_unauthenticated_bad_body_is_401_and_never_read(
    client,  # noqa: ARG001 - empties the tables afterwards
    anon_client,
    path,
    headers,
):
    body = Body()
    response = await anon_client.post(
        path, content=body, headers={"Content-Type": "application/json"} | headers
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert not body.read


async def test_a_key_without_the_scope_is_403_before_the_body(client, anon_client):
    made = await client.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["incidents:read"]})
    reader = {"Authorization": f"Bearer {made.json()['key']}", "Content-Type": "application/json"}
    body = Body()
    response = await anon_client.post("/api/v1/incidents", content=body, headers=reader)
    assert response.status_code == 403, response.text
    assert not body.read


async def test_an_authenticated_bad_body_is_still_a_422(client, anon_client):
    for path, headers in (
        ("/api/v1/incidents", {}),
        ("/api/v1/webhooks/alertmanager", {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}),
    ):
        send = anon_client if headers else client
        response = await send.post(
            path, content=BAD_BODY, headers={"Content-Type": "application/json"} | headers
        )
        assert response.status_code == 422, (path, response.text)
    created = await client.post("/api/v1/incidents", json={"title": "Fine", "severity": "sev3"})
    assert created.status_code == 201


def test_every_api_route_with_a_body_checks_its_caller_first(app):
    checked_by_body = {"/api/v1/webhooks/github", "/api/v1/webhooks/gitlab"}  # HMAC, token
    seen = set()
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/v1"):
            continue
        if route.body_field is None or route.path in checked_by_body:
            continue  # nothing is parsed before the dependencies check the caller
        assert isinstance(route, AuthenticatedRoute), route.path
        assert list(gates_of(route.dependant)), route.path
        seen.add(route.path)
    assert len(seen) > 15
