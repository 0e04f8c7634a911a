"""SRE targets from settings: every new incident and a raise to sev1/sev2, unsubscribed."""

import base64

import pytest
from standardwebhooks import Webhook

from tests.factories import join, make_incident, move
from tests.notifications.conftest import running_app, settled
from tests.notifications.receiver import eventually

SECRET = "whsec_" + base64.b64encode(b"s" * 24).decode()


async def test_sre_targets_get_new_incidents_and_raises_to_sev1_or_sev2(
    backend, tmp_path, receiver
):
    targets = [f"{receiver.url}/pager", f"{receiver.url}/chat"]
    async with running_app(
        backend, tmp_path, sre_notify_urls=targets, sre_notify_secret=SECRET
    ) as (app, client):
        incident = await make_incident(client, severity="sev3")
        url = f"/api/v1/incidents/{incident['id']}"
        for severity in ("sev1", "sev2", "sev4", "sev3", "sev2"):
            response = await client.patch(url, json={"severity": severity})
            assert response.status_code == 200, response.text
        await client.patch(url, json={"title": "Renamed"})
        await move(client, incident, "acknowledged")
        await join(client, incident, "alice", "sre")
        await make_incident(client, title="Minor", severity="sev4")
        await eventually(lambda: settled(app.state.database), message="all delivered")

    for path in ("/pager", "/chat"):
        got = [r for r in receiver.received if r.path == path]
        for request in got:
            Webhook(SECRET).verify(request.body, request.headers)
        summary = sorted(
            (
                r.json()["type"],
                r.json()["data"]["incident"]["title"],
                (r.json()["data"].get("changes") or {}).get("severity", {}).get("to"),
            )
            for r in got
        )
        assert summary == [
            ("incident.created", "Checkout errors", None),
            ("incident.created", "Minor", None),
            ("incident.updated", "Checkout errors", "sev1"),
            ("incident.updated", "Checkout errors", "sev2"),
        ], path
    assert len(receiver.by_id()) == 8  # a delivery (webhook-id) per event and target


@pytest.mark.parametrize("secret", ["raw-secret-of-sre-team", None])
async def test_sre_secret_may_be_raw_or_absent(backend, tmp_path, receiver, secret):
    async with running_app(
        backend, tmp_path, sre_notify_urls=[receiver.url], sre_notify_secret=secret
    ) as (_, client):
        await make_incident(client)
        (request,) = await eventually(lambda: receiver.received, message="SRE notified")
    if secret is None:
        assert "webhook-signature" not in request.headers
        assert request.headers["webhook-id"]
    else:
        # a raw secret's UTF-8 bytes are the key
        payload = Webhook(secret.encode()).verify(request.body, request.headers)
        assert payload["type"] == "incident.created"


async def test_an_unusable_sre_secret_stops_the_app_from_starting(tmp_path):
    with pytest.raises(ValueError, match="base64"):
        async with running_app("sqlite", tmp_path, sre_notify_secret="whsec_!!!"):
            pass
