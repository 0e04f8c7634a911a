"""A blank secret is no secret: its endpoint stays closed (503), whatever is sent."""

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from app.core.errors import PROBLEM_JSON
from app.core.settings import SECRET_SETTINGS, Settings
from app.main import create_app
from tests.conftest import fresh_database, make_settings
from tests.integrations.conftest import fixture_bytes

ALERTMANAGER = "/api/v1/webhooks/alertmanager"
BLANKS = ("", "   ")


@pytest.fixture(params=BLANKS, ids=["empty", "whitespace"])
def blank_settings(
    request: pytest.FixtureRequest, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The app's settings read again from an environment where every secret is blank."""
    blank = str(request.param)
    for name in SECRET_SETTINGS:
        monkeypatch.setenv(f"MUSTER_{name.upper()}", blank)
    original = app.state.settings
    settings = Settings(_env_file=None, database_url=original.database_url)  # type: ignore[call-arg]
    app.state.settings = settings
    yield settings
    app.state.settings = original


@pytest.mark.usefixtures("client")  # empties the tables afterwards
async def test_blank_secrets_leave_every_webhook_closed(anon_client, blank_settings):
    for name in SECRET_SETTINGS:
        assert getattr(blank_settings, name) is None, name
    alert = fixture_bytes("alertmanager/firing-two-alerts.json")
    empty_hmac = hmac.new(b"", alert, hashlib.sha256).hexdigest()
    attempts = [
        (ALERTMANAGER, {"Authorization": "Bearer"}),
        (ALERTMANAGER, {"Authorization": "Bearer "}),
        (ALERTMANAGER, {"Authorization": "Basic"}),
        (ALERTMANAGER, {"Authorization": "Basic " + base64.b64encode(b"").decode()}),
        (
            "/api/v1/webhooks/github",
            {
                "X-GitHub-Event": "deployment_status",
                "X-GitHub-Delivery": "blank-secret",
                "X-Hub-Signature-256": f"sha256={empty_hmac}",
            },
        ),
        ("/api/v1/webhooks/gitlab", {"X-Gitlab-Token": ""}),
    ]
    for path, headers in attempts:
        response = await anon_client.post(
            path, content=alert, headers={"Content-Type": "application/json"} | headers
        )
        assert response.status_code == 503, (path, headers, response.text)
        assert response.headers["content-type"] == PROBLEM_JSON
        assert "MUSTER_" in response.json()["detail"]
    incidents = await anon_client.get("/api/v1/incidents", headers={"Authorization": "Bearer "})
    assert incidents.status_code == 401


async def test_a_short_secret_is_accepted_with_a_warning_naming_it(backend, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="muster")
    async with fresh_database(backend, tmp_path) as url:
        app = create_app(
            make_settings(url, alertmanager_token="tiny-9", github_webhook_secret="x" * 16)
        )
        async with app.router.lifespan_context(app):
            pass
    warned = [record.getMessage() for record in caplog.records if record.name == "muster"]
    assert any("MUSTER_ALERTMANAGER_TOKEN" in message for message in warned), warned
    assert not any("MUSTER_GITHUB_WEBHOOK_SECRET" in message for message in warned), warned
    assert not any("tiny-9" in message for message in warned)  # the value is not logged
