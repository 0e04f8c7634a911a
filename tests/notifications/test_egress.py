"""Subscriptions never reach internal addresses unless the operator opens their network.

Literal internal addresses are refused at creation; names are checked on what they
resolve to, and the connection goes to the address that was checked. SRE targets,
set by the operator, are trusted.
"""

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from app.core.errors import PROBLEM_JSON
from tests.factories import make_incident
from tests.notifications.conftest import deliveries, running_app, subscribe
from tests.notifications.receiver import Receiver, eventually

INTERNAL = [
    "http://127.0.0.1:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0x7f000001:8080/",
    "http://2130706433/",
    "http://127.1/",
    "http://[::1]:8080/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fd00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.251/",
    "http://240.0.0.1/",
]


@pytest.fixture
def networks(app: FastAPI) -> Iterator[Any]:
    """Set MUSTER_NOTIFY_ALLOWED_NETWORKS of the shared app (the test default opens loopback)."""
    original = app.state.settings

    def allow(*cidrs: str) -> None:
        app.state.settings = original.model_validate(
            original.model_dump() | {"notify_allowed_networks": list(cidrs)}
        )

    allow()
    yield allow
    app.state.settings = original


@pytest.mark.usefixtures("networks")
@pytest.mark.parametrize("url", INTERNAL)
async def test_a_literal_internal_address_is_refused_at_creation(client, url):
    response = await client.post("/api/v1/subscriptions", json={"url": url, "events": ["*"]})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    (error,) = response.json()["errors"]
    assert error["field"] == "body.url"
    assert "MUSTER_NOTIFY_ALLOWED_NETWORKS" in error["message"]
    assert (await client.get("/api/v1/subscriptions")).json()["items"] == []


@pytest.mark.usefixtures("networks")
async def test_a_change_to_an_internal_address_is_refused(client):
    subscription = await subscribe(client, "https://hooks.example.com/muster")
    response = await client.patch(
        f"/api/v1/subscriptions/{subscription['id']}", json={"url": "http://[::1]/"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.url"
    stored = await client.get(f"/api/v1/subscriptions/{subscription['id']}")
    assert stored.json()["url"] == "https://hooks.example.com/muster"


async def test_allowed_networks_open_internal_addresses_but_not_metadata(client, networks):
    networks("10.20.0.0/16", "169.254.0.0/16", "fd00::/8")
    for url in ("http://10.20.3.4/hook", "http://169.254.1.1/"):
        await subscribe(client, url)
    for url in ("http://10.21.0.1/", "http://169.254.169.254/", "http://[fd00:ec2::254]/"):
        response = await client.post("/api/v1/subscriptions", json={"url": url, "events": ["*"]})
        assert response.status_code == 422, (url, response.text)
    networks("169.254.169.254/32", "fd00:ec2::254")
    await subscribe(client, "http://169.254.169.254/latest/meta-data/")
    await subscribe(client, "http://[fd00:ec2::254]/")


async def _dead(client: Any, subscription: dict[str, Any]) -> dict[str, Any]:
    (dead,) = await eventually(
        lambda: deliveries(client, subscription, status="dead"), message="dead"
    )
    return dict(dead)


async def test_a_name_resolving_to_loopback_is_not_connected_to(backend, tmp_path, receiver):
    async with running_app(backend, tmp_path, notify_allowed_networks=[]) as (_, client):
        subscription = await subscribe(
            client, f"http://localhost:{receiver.port}/hook", events=["incident.created"]
        )
        await make_incident(client)
        dead = await _dead(client, subscription)
    assert dead["last_error"] == "destination not allowed"
    assert dead["response_code"] is None
    assert receiver.received == []


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names of our own, resolved by the system resolver's entry point; others as usual."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        return real(names.get(name, host), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


async def test_the_connection_goes_to_the_checked_address_with_the_hosts_name(
    backend, tmp_path, receiver: Receiver, resolver
):
    resolver["receiver.muster.test"] = "127.0.0.1"
    resolver["metadata.muster.test"] = "169.254.169.254"
    async with running_app(backend, tmp_path, notify_allowed_networks=["127.0.0.0/8"]) as (
        _,
        client,
    ):
        reached = await subscribe(
            client, f"http://receiver.muster.test:{receiver.port}/hook", events=["incident.created"]
        )
        refused = await subscribe(
            client, "http://metadata.muster.test/latest/meta-data/", events=["incident.created"]
        )
        await make_incident(client)
        (delivered,) = await eventually(
            lambda: deliveries(client, reached, status="delivered"), message="delivered"
        )
        dead = await _dead(client, refused)
    (request,) = receiver.received
    assert request.webhook_id == delivered["id"]
    assert request.headers["host"] == f"receiver.muster.test:{receiver.port}"
    assert dead["last_error"] == "destination not allowed"


async def test_sre_targets_set_by_the_operator_are_trusted(backend, tmp_path, receiver):
    async with running_app(
        backend, tmp_path, notify_allowed_networks=[], sre_notify_urls=[receiver.url]
    ) as (_, client):
        incident = await make_incident(client)
        (request,) = await eventually(lambda: receiver.received, message="SRE notified")
    assert request.json()["data"]["incident"]["id"] == incident["id"]
