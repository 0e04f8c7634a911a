"""A real OpenID provider (the `oidc-provider` npm package, `make tools` installs it) on
loopback: Muster finds its keys by discovery and accepts its client-credentials tokens."""

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import fresh_database, make_settings, unavailable
from tests.processes import free_port

PROVIDER = Path(__file__).resolve().parents[1] / "oidc_provider"
CLIENT, SECRET = "muster-bot", secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed")
    if not (PROVIDER / "node_modules" / "oidc-provider").is_dir():
        unavailable("the test OpenID provider is not installed (`make tools`)")
    port = free_port()
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, "provider.mjs", str(port)],
            cwd=PROVIDER,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OIDC_CLIENT_SECRET": SECRET},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the OpenID provider did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
async def app(backend: str, tmp_path_factory, issuer: str) -> AsyncIterator[FastAPI]:
    async with fresh_database(backend, tmp_path_factory.mktemp("oidc")) as url:
        settings = make_settings(url, oidc_issuer=issuer, oidc_audience="muster")
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            yield application


async def token(issuer: str, scope: str) -> str:
    async with httpx.AsyncClient() as http:
        discovery = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()
        response = await http.post(
            discovery["token_endpoint"],
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(CLIENT, SECRET),
        )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    return str(response.json()["access_token"])


async def test_a_client_credentials_token_of_a_real_provider_is_accepted(
    client, anon_client, issuer
):
    writer = {"Authorization": f"Bearer {await token(issuer, 'incidents:write')}"}
    created = await anon_client.post(
        "/api/v1/incidents", json={"title": "Queue backlog", "severity": "sev3"}, headers=writer
    )
    assert created.status_code == 201, created.text

    reader = {"Authorization": f"Bearer {await token(issuer, 'incidents:read')}"}
    assert (await anon_client.get("/api/v1/incidents", headers=reader)).status_code == 200
    refused = await anon_client.post("/api/v1/incidents", json={"title": "x"}, headers=reader)
    assert refused.status_code == 403

    events = (await client.get("/api/v1/audit-events")).json()["items"]
    assert [(e["actor"], e["via"]["subject"], e["status"]) for e in events] == [
        (CLIENT, CLIENT, 403),
        (CLIENT, CLIENT, 201),
    ]
