"""SRE targets from MUSTER_SRE_NOTIFY_URLS: the escalation policy's shorthand, level 0."""

import base64

import pytest
from standardwebhooks import Webhook

from tests.factories import join, make_incident, move
from tests.notifications.conftest import running_app, settled
from tests.notifications.receiver import eventually

SECRET = "whsec_" + base64.b64encode(b"s" * 24).decode()


async def test_sre_notify_urls_are_a_level_0_every_new_incident_reaches(
    backend, tmp_path, receiver
):
    """The shorthand: one level at 0 minutes, every severity; signed, unsubscribed."""
    targets = [f"{receiver.url}/pager", f"{receiver.url}/chat"]
    async with running_app(
        backend, tmp_path, sre_notify_urls=targets, sre_notify_secret=SECRET
    ) as (app, client):
        incident = await make_incident(client, severity="sev3")
        url = f"/api/v1/incidents/{incident['id']}"
        for severity in ("sev1", "sev4"):
            response = await client.patch(url, json={"severity": severity})
            assert response.status_code == 200, response.text
        await move(client, incident, "acknowledged")
        await join(client, incident, "alice", "sre")
        await make_incident(client, title="Minor", severity="sev4")
        await eventually(lambda: settled(app.state.database), message="all delivered")

    for path in ("/pager", "/chat"):
        got = [r for r in receiver.received if r.path == path]
        for request in got:
            Webhook(SECRET).verify(request.body, request.headers)
        summary = sorted(
            (r.json()["type"], r.json()["data"]["incident"]["title"], r.json()["data"]["level"])
            for r in got
        )
        assert summary == [
            ("incident.escalated", "Checkout errors", 0),
            ("incident.escalated", "Minor", 0),
        ], path
    assert len(receiver.by_id()) == 4  # a delivery (webhook-id) per event and target


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
        assert payload["type"] == "incident.escalated"


async def test_an_unusable_sre_secret_stops_the_app_from_starting(tmp_path):
    with pytest.raises(ValueError, match="base64"):
        async with running_app("sqlite", tmp_path, sre_notify_secret="whsec_!!!"):
            pass
