"""Every response says nosniff and no-referrer; Swagger UI may load only its own assets."""

import re

import pytest


@pytest.mark.parametrize(
    ("path", "authenticated"),
    [
        ("/healthz", False),
        ("/api/v1/incidents", True),
        ("/api/v1/incidents", False),
        ("/nope", False),
    ],
)
async def test_every_response_carries_the_security_headers(
    client, anon_client, path, authenticated
):
    response = await (client if authenticated else anon_client).get(path)
    assert response.headers["x-content-type-options"] == "nosniff", response.status_code
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_docs_allow_only_their_own_origin_and_no_framing(anon_client):
    response = await anon_client.get("/docs")
    assert response.status_code == 200
    directives = response.headers["content-security-policy"].split("; ")
    policy = {name: value for name, _, value in (d.partition(" ") for d in directives)}
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert "http" not in response.headers["content-security-policy"]  # no other origin
    assert "<script>" not in response.text, "no inline script: 'self' is enough"
    assert "'unsafe-inline'" not in policy.get("script-src", "")
    for url in re.findall(r'(?:src|href)="([^"]+)"', response.text):
        assert url.startswith("/docs/"), url  # this origin
    setup = await anon_client.get("/docs/muster-swagger.js")
    assert "persistAuthorization" not in setup.text
