"""Webhook delivery to a real HTTP receiver: signing, formats, filters, retries, 410, redelivery."""

import base64
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.core.test_errors import assert_problem
from tests.factories import make_incident, move
from tests.notifications.conftest import deliveries, settled, subscribe
from tests.notifications.receiver import eventually

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


async def test_an_event_arrives_signed_per_standard_webhooks(client, receiver):
    subscription = await subscribe(client, f"{receiver.url}/hook", events=["incident.created"])
    incident = await make_incident(client, title="Checkout down", severity="sev1")

    (request,) = await eventually(lambda: receiver.received, message="a delivery")
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    payload = Webhook(subscription["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "incident.created"
    assert payload["data"]["incident"] == incident
    assert payload["timestamp"].endswith("Z")
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 30

    (delivery,) = await eventually(
        lambda: deliveries(client, subscription, status="delivered"), message="delivered"
    )
    assert delivery["id"] == request.webhook_id
    assert delivery["event_type"] == "incident.created"
    assert delivery["attempts"] == 1
    assert delivery["response_code"] == 204
    assert delivery["delivered_at"] is not None
    assert delivery["duration_ms"] >= 0
    assert delivery["target_url"] == f"{receiver.url}/hook"


async def test_a_given_secret_signs_and_a_tampered_body_does_not_verify(client, receiver):
    await subscribe(client, receiver.url, events=["incident.created"], secret=SECRET)
    await make_incident(client)
    (request,) = await eventually(lambda: receiver.received, message="a delivery")
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    Webhook(key).verify(request.body, request.headers)
    tampered = request.body.replace(b"Checkout", b"Checkin")
    with pytest.raises(WebhookVerificationError, match="signature"):
        Webhook(SECRET).verify(tampered, request.headers)


async def test_slack_format_sends_a_block_kit_message_with_a_readable_line(client, receiver, app):
    subscription = await subscribe(
        client, receiver.url, format="slack", events=["incident.status_changed"]
    )
    incident = await make_incident(client, title="Payments <slow> & failing", severity="sev2")
    assert (await move(client, incident, "acknowledged")).status_code == 200

    (request,) = await eventually(lambda: receiver.received, message="a slack delivery")
    body = Webhook(subscription["secret"]).verify(request.body, request.headers)
    assert set(body) == {"text", "blocks"}
    assert [block["type"] for block in body["blocks"]] == [
        "header",
        "section",
        "section",
        "actions",
    ]
    text = body["text"]
    link = f"{app.state.settings.public_url}/api/v1/incidents/{incident['reference']}/page"
    assert "Status triggered → acknowledged" in text
    assert f"*{incident['reference']}*" in text
    assert "Payments &lt;slow&gt; &amp; failing" in text
    assert "severity sev2" in text
    assert "status acknowledged" in text
    assert f"<{link}|{incident['reference']}>" in text


async def test_each_subscription_gets_only_the_events_it_asked_for(client, receiver, database):
    everything = await subscribe(client, f"{receiver.url}/all", events=["*"])
    statuses = await subscribe(client, f"{receiver.url}/status", events=["incident.status_changed"])
    incident = await make_incident(client)
    await move(client, incident, "investigating")
    await eventually(lambda: settled(database), message="all deliveries done")

    def types(path: str) -> list[str]:
        return sorted(r.json()["type"] for r in receiver.received if r.path == path)

    assert types("/status") == ["incident.status_changed"]
    assert types("/all") == sorted(
        [
            "incident.created",
            "timeline.event_added",
            "incident.status_changed",
            "timeline.event_added",
        ]
    )
    assert len(await deliveries(client, everything)) == 4
    assert len(await deliveries(client, statuses)) == 1


async def test_events_before_the_subscription_existed_are_not_sent(client, receiver, database):
    await make_incident(client)
    await eventually(lambda: settled(database), message="first event fanned out")
    subscription = await subscribe(client, receiver.url, events=["incident.created"])
    second = await make_incident(client, title="Second")
    await eventually(lambda: receiver.received, message="a delivery")
    await eventually(lambda: settled(database), message="done")
    assert [r.json()["data"]["incident"]["id"] for r in receiver.received] == [second["id"]]
    assert len(await deliveries(client, subscription)) == 1


async def test_a_failing_receiver_is_retried_until_it_recovers(client, receiver):
    receiver.script = [500, 503]
    subscription = await subscribe(client, receiver.url, events=["incident.created"])
    await make_incident(client)

    (delivery,) = await eventually(
        lambda: deliveries(client, subscription, status="delivered"), message="delivered"
    )
    assert delivery["attempts"] == 3
    assert delivery["response_code"] == 204
    assert delivery["last_error"] == "HTTP 503"
    requests = receiver.received
    assert [r.webhook_id for r in requests] == [delivery["id"]] * 3
    # every attempt is signed afresh, with its own timestamp, and verifies
    for request in requests:
        Webhook(subscription["secret"]).verify(request.body, request.headers)
    assert len({r.body for r in requests}) == 1


async def test_a_hanging_receiver_times_out_and_is_retried(client, receiver):
    receiver.script = ["hang"]
    subscription = await subscribe(client, receiver.url, events=["incident.created"])
    await make_incident(client)

    (delivery,) = await eventually(
        lambda: deliveries(client, subscription, status="delivered"), message="delivered"
    )
    assert delivery["attempts"] == 2
    assert delivery["last_error"] == "timed out"
    assert receiver.by_id() == {delivery["id"]: 2}
    receiver.release()


async def test_a_receiver_down_for_every_attempt_ends_dead_then_redelivery_works(
    client, idle_receiver, app
):
    subscription = await subscribe(client, idle_receiver.url, events=["incident.created"])
    await make_incident(client)

    (dead,) = await eventually(
        lambda: deliveries(client, subscription, status="dead"), message="dead"
    )
    assert dead["attempts"] == app.state.settings.delivery_max_attempts
    assert dead["next_attempt_at"] is None
    assert dead["response_code"] is None
    assert dead["last_error"] == "connection refused"
    assert await deliveries(client, subscription, status="pending") == []

    idle_receiver.start()
    response = await client.post(f"/api/v1/deliveries/{dead['id']}/redeliver")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert response.json()["attempts"] == dead["attempts"]

    (delivered,) = await eventually(
        lambda: deliveries(client, subscription, status="delivered"), message="redelivered"
    )
    assert delivered["id"] == dead["id"]
    assert delivered["attempts"] == dead["attempts"] + 1
    assert [r.webhook_id for r in idle_receiver.received] == [dead["id"]]
    again = await client.post(f"/api/v1/deliveries/{dead['id']}/redeliver")
    assert assert_problem(again, 409)["status"] == 409


async def test_410_gone_disables_the_subscription(client, receiver, database):
    receiver.script = [410]
    subscription = await subscribe(client, receiver.url, events=["incident.created"])
    await make_incident(client)

    (failed,) = await eventually(
        lambda: deliveries(client, subscription, status="failed"), message="failed"
    )
    assert failed["attempts"] == 1
    assert failed["response_code"] == 410
    url = f"/api/v1/subscriptions/{subscription['id']}"
    disabled = (await client.get(url)).json()
    assert disabled["active"] is False
    assert "410" in disabled["disabled_reason"]

    await make_incident(client, title="Not sent: the subscription is off")
    await eventually(lambda: settled(database), message="fanned out")
    assert len(receiver.received) == 1
    assert len(await deliveries(client, subscription)) == 1
    assert_problem(await client.post(f"/api/v1/deliveries/{failed['id']}/redeliver"), 409)

    resumed = (await client.patch(url, json={"active": True})).json()
    assert resumed["disabled_reason"] is None
    response = await client.post(f"/api/v1/deliveries/{failed['id']}/redeliver")
    assert response.status_code == 202
    await eventually(
        lambda: deliveries(client, subscription, status="delivered"), message="redelivered"
    )
    assert receiver.by_id() == {failed["id"]: 2}


async def test_deliveries_are_paged_newest_first_and_filtered_by_status(client, receiver, database):
    subscription = await subscribe(client, receiver.url, events=["incident.created"])
    for n in range(5):
        await make_incident(client, title=f"storm {n}")
    await eventually(lambda: settled(database), message="all delivered")

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get(
                f"/api/v1/subscriptions/{subscription['id']}/deliveries", params=params
            )
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len({d["id"] for d in seen}) == 5
    assert [d["created_at"] for d in seen] == sorted((d["created_at"] for d in seen), reverse=True)
    titles = [json.loads(r.body)["data"]["incident"]["title"] for r in receiver.received]
    assert sorted(titles) == [f"storm {n}" for n in range(5)]
    assert await deliveries(client, subscription, status="dead") == []
    assert len(await deliveries(client, subscription, status=["dead", "delivered"])) == 5
    assert_problem(
        await client.get(
            f"/api/v1/subscriptions/{subscription['id']}/deliveries", params={"status": "lost"}
        ),
        422,
    )
