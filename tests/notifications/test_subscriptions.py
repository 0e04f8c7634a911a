"""Subscriptions through the API: create, read, change, delete; validation; secrets; scopes."""

import base64

import pytest
from standardwebhooks import Webhook

from tests.auth.test_api_keys import create_key
from tests.core.test_errors import assert_problem
from tests.factories import count_rows
from tests.notifications.conftest import subscribe

URL = "https://hooks.example.test/muster"
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


async def test_create_returns_the_generated_secret_once(client):
    response = await client.post(
        "/api/v1/subscriptions",
        json={"url": URL, "events": ["incident.created"], "description": "status page"},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/api/v1/subscriptions/{created['id']}"
    assert response.headers["cache-control"] == "no-store"
    assert created["format"] == "standard-webhooks"
    assert created["active"] is True
    assert created["disabled_reason"] is None
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    Webhook(secret)  # a Standard Webhooks library accepts it as it is

    listed = await client.get("/api/v1/subscriptions")
    read = await client.get(f"/api/v1/subscriptions/{created['id']}")
    changed = await client.patch(
        f"/api/v1/subscriptions/{created['id']}", json={"description": "changed"}
    )
    for response in (listed, read, changed):
        assert response.status_code == 200
        assert secret not in response.text
        assert "secret" not in response.text
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert read.json() | {"secret": secret} == created
    assert changed.json()["description"] == "changed"


async def test_a_given_secret_is_kept_and_a_second_one_is_different(client):
    given = await subscribe(client, URL, secret=SECRET)
    generated = [await subscribe(client, URL) for _ in range(2)]
    assert given["secret"] == SECRET
    assert generated[0]["secret"] != generated[1]["secret"]


async def test_idempotent_create_replays_the_first_response(client, database):
    headers = {"Idempotency-Key": "sub-1"}
    body = {"url": URL, "events": ["*"]}
    first = await client.post("/api/v1/subscriptions", json=body, headers=headers)
    again = await client.post("/api/v1/subscriptions", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await count_rows(database, "subscriptions") == 1


async def test_update_changes_only_what_is_sent_and_reactivation_clears_the_reason(client):
    created = await subscribe(client, URL, events=["incident.created"], format="slack")
    url = f"/api/v1/subscriptions/{created['id']}"
    paused = (await client.patch(url, json={"active": False})).json()
    assert paused["active"] is False
    assert paused["events"] == ["incident.created"]
    assert paused["format"] == "slack"
    assert paused["updated_at"] > created["updated_at"]

    changed = await client.patch(
        url,
        json={"url": "http://other.test/x", "events": ["incident.updated", "*"], "active": True},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] == "http://other.test/x"
    assert changed.json()["events"] == ["incident.updated", "*"]
    assert changed.json()["active"] is True


async def test_delete_removes_it(client, database):
    created = await subscribe(client, URL)
    url = f"/api/v1/subscriptions/{created['id']}"
    assert (await client.delete(url)).status_code == 204
    assert_problem(await client.get(url), 404)
    assert_problem(await client.delete(url), 404)
    assert_problem(await client.patch(url, json={"active": True}), 404)
    assert await count_rows(database, "subscriptions") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.example.test/x", "events": ["*"]}, "body.url"),
        ({"url": "not a url", "events": ["*"]}, "body.url"),
        ({"url": "https://", "events": ["*"]}, "body.url"),
        ({"url": "https://hooks.example.test/\x0e", "events": ["*"]}, "body.url"),
        ({"events": ["*"]}, "body.url"),
        ({"url": URL, "events": []}, "body.events"),
        ({"url": URL}, "body.events"),
        ({"url": URL, "events": ["incident.created", "incident.exploded"]}, "body.events.1"),
        ({"url": URL, "events": ["*"], "format": "teams"}, "body.format"),
        ({"url": URL, "events": ["*"], "secret": "hunter2"}, "body.secret"),
        ({"url": URL, "events": ["*"], "secret": "whsec_" + "c2hvcnQ="}, "body.secret"),
        ({"url": URL, "events": ["*"], "secret": "whsec_not*base64!"}, "body.secret"),
        ({"url": URL, "events": ["*"], "colour": "red"}, "body.colour"),
    ],
)
async def test_invalid_subscriptions_are_refused_naming_the_field(client, database, body, field):
    problem = assert_problem(await client.post("/api/v1/subscriptions", json=body), 422)
    assert field in [error["field"] for error in problem["errors"]], problem
    assert await count_rows(database, "subscriptions") == 0


async def test_unknown_event_type_problem_names_the_type(client):
    problem = assert_problem(
        await client.post(
            "/api/v1/subscriptions", json={"url": URL, "events": ["incident.exploded"]}
        ),
        422,
    )
    assert problem["errors"][0]["field"] == "body.events.0"
    assert "incident.exploded" in problem["errors"][0]["message"]


@pytest.mark.parametrize(
    "change",
    [
        {"url": "gopher://x.test"},
        {"events": []},
        {"events": ["nope"]},
        {"events": None},
        {"url": None},
        {"active": None},
        {"secret": None},
        {"secret": "plain"},
        {"format": "email"},
        {"id": "00000000-0000-0000-0000-000000000000"},
    ],
)
async def test_invalid_changes_are_refused_and_change_nothing(client, change):
    created = await subscribe(client, URL, events=["incident.created"])
    url = f"/api/v1/subscriptions/{created['id']}"
    problem = assert_problem(await client.patch(url, json=change), 422)
    assert problem["errors"]
    after = (await client.get(url)).json()
    assert after | {"secret": created["secret"]} == created


async def test_subscriptions_need_the_subscriptions_admin_scope(client, anon_client):
    writer = await create_key(client, "incidents:write", name="writer")
    admin = await create_key(client, "subscriptions:admin", name="hooks")
    body = {"url": URL, "events": ["*"]}

    assert_problem(await anon_client.get("/api/v1/subscriptions"), 401)
    denied = await anon_client.post(
        "/api/v1/subscriptions", json=body, headers={"Authorization": f"Bearer {writer['key']}"}
    )
    assert_problem(denied, 403)
    assert "subscriptions:admin" in denied.json()["detail"]
    allowed = await anon_client.post(
        "/api/v1/subscriptions", json=body, headers={"Authorization": f"Bearer {admin['key']}"}
    )
    assert allowed.status_code == 201
    redeliver = await anon_client.post(
        "/api/v1/deliveries/00000000-0000-0000-0000-000000000000/redeliver",
        headers={"Authorization": f"Bearer {writer['key']}"},
    )
    assert_problem(redeliver, 403)


async def test_deliveries_of_an_unknown_subscription_is_404(client):
    missing = "/api/v1/subscriptions/00000000-0000-0000-0000-000000000000/deliveries"
    assert_problem(await client.get(missing), 404)
    assert_problem(
        await client.post("/api/v1/deliveries/00000000-0000-0000-0000-000000000000/redeliver"),
        404,
    )
