"""Faults of a real `muster serve`: the database goes away, the process is killed.

The database outage is simulated by a TCP relay between Muster and PostgreSQL that the
test cuts (every connection dropped, the port refusing new ones) and restores: the
machine's PostgreSQL is shared and must not be stopped. Muster's pool has no
pre-ping, so a pooled connection found dead fails its request (503, which senders
retry) and the pool is renewed: the test holds recovery to that.

Both tests play Alertmanager: each notification opens its own incident, a 5xx or a
broken connection is retried until it is accepted, and the end state must hold
exactly one incident per notification, with everything an incident is made of.
"""

import asyncio
import signal
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.core.errors import PROBLEM_JSON
from app.main import create_app
from tests.conftest import ADMIN_KEY, ALERTMANAGER_TOKEN, fresh_database, make_settings
from tests.processes import Server, TcpProxy, launch, muster_env, muster_serve

pytestmark = pytest.mark.faults

ALERTMANAGER = "/api/v1/webhooks/alertmanager"
AM_HEADERS = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
CHECKLIST_ITEMS = 7  # the default template


def notification(n: int) -> dict[str, Any]:
    """A firing notification of its own group: it opens incident "burst <n>"."""
    labels = {"alertname": f"Burst{n}", "service": f"svc{n}", "severity": "critical"}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="Burst{n}"}}',
        "status": "firing",
        "receiver": "muster",
        "groupLabels": {"alertname": f"Burst{n}"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": f"burst {n}"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": f"burst {n}"},
                "startsAt": "2026-11-28T14:01:26Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{n:016x}",
            }
        ],
    }


async def post_notification(http: httpx.AsyncClient, n: int) -> int | None:
    """The status Muster answered, or None when the connection broke."""
    try:
        response = await http.post(ALERTMANAGER, json=notification(n), headers=AM_HEADERS)
    except httpx.TransportError:
        return None
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON, response.text
    return response.status_code


async def test_a_connection_dropped_while_connecting_is_503_not_500():
    """PostgreSQL closing a new connection mid-handshake (a restart, a proxy cut at the
    wrong moment) is an outage like any other: 503, so that senders retry."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(8)  # SSLRequest
        writer.write(b"N")  # no TLS: go on in plain text …
        await reader.read(4)  # … and the startup message starts: hang up
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"postgresql+asyncpg://muster@127.0.0.1:{port}/muster"
    app = create_app(make_settings(url, auto_migrate=False, dispatcher_enabled=False))
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            listed = await http.get("/api/v1/incidents", headers=ADMIN_HEADERS)
            notified = await post_notification(http, 1)
    finally:
        server.close()
        await server.wait_closed()
    assert listed.status_code == 503, listed.text
    assert listed.headers["retry-after"] == "5"
    assert notified == 503


async def retry_until_accepted(http: httpx.AsyncClient, pending: list[int]) -> None:
    """Alertmanager's behaviour: resend on 5xx or a broken connection (bounded here)."""
    for n in pending:
        statuses = [await post_notification(http, n)]
        while statuses[-1] != 200 and len(statuses) < 5:
            await asyncio.sleep(0.2)
            statuses.append(await post_notification(http, n))
        assert statuses[-1] == 200, (n, statuses)


def _assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_postgres_outage_is_503_and_recovers_without_a_restart(tmp_path):
    async with fresh_database("postgres", tmp_path) as url:
        real = make_url(url)
        proxy = TcpProxy(real.port or 5432)
        env = muster_env(
            real.set(port=proxy.port).render_as_string(hide_password=False),
            admin_api_key=ADMIN_KEY,
            alertmanager_token=ALERTMANAGER_TOKEN,
            db_pool_size="2",
        )
        try:
            with muster_serve(env, tmp_path) as server:
                async with httpx.AsyncClient(
                    base_url=server.base, headers=ADMIN_HEADERS, timeout=30
                ) as http:
                    await _outage(http, proxy, server)
        finally:
            proxy.close()


async def _outage(http: httpx.AsyncClient, proxy: TcpProxy, server: Server) -> None:
    assert (await http.get("/readyz")).status_code == 200
    assert await post_notification(http, 0) == 200

    # PostgreSQL goes away while a burst of notifications is in flight.
    burst = [asyncio.create_task(post_notification(http, n)) for n in range(1, 11)]
    await asyncio.sleep(0.02)
    proxy.cut()
    answered = dict(zip(range(1, 11), await asyncio.gather(*burst), strict=True))
    assert set(answered.values()) <= {200, 503}, answered

    # While it is down: not ready, and every read and write is a 503 problem, fast.
    _assert_problem(await http.get("/readyz"), 503)
    create = {"title": "Written during the outage"}
    key = {"Idempotency-Key": "outage-create"}
    for _ in range(3):  # more attempts than pooled connections
        response = await http.post("/api/v1/incidents", json=create, headers=key)
        _assert_problem(response, 503)
        assert response.headers["retry-after"]
        _assert_problem(await http.get("/api/v1/incidents"), 503)
    assert await post_notification(http, 11) == 503  # Alertmanager will retry

    # It comes back: Muster recovers without a restart. Without pre-ping, each pooled
    # connection that died may fail one request before the pool is renewed.
    proxy.restore()
    statuses = []
    while not statuses or statuses[-1] != 200:
        assert len(statuses) <= 2, statuses  # pool_size 2: at most one failure each
        statuses.append((await http.get("/readyz")).status_code)
    assert server.process.poll() is None

    # The retried writes land exactly once.
    await retry_until_accepted(http, [n for n, s in answered.items() if s != 200] + [11])
    again = await http.post(ALERTMANAGER, json=notification(11), headers=AM_HEADERS)
    assert again.json()["status"] == "duplicate"
    created = await http.post("/api/v1/incidents", json=create, headers=key)
    assert created.status_code == 201, created.text
    replayed = await http.post("/api/v1/incidents", json=create, headers=key)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["id"] == created.json()["id"]
    listed = (await http.get("/api/v1/incidents", params={"limit": 200})).json()["items"]
    assert [i["title"] for i in listed].count(create["title"]) == 1

    # A blip with no request in between leaves dead connections in the pool: the first
    # request to use one fails (503, Alertmanager retries) and the pool is renewed, so
    # the retry lands, once. The dispatcher's poll may meet the dead connection first,
    # and then the notification lands at once.
    proxy.cut()
    proxy.restore()
    statuses = [await post_notification(http, 12)]
    while statuses[-1] != 200 and len(statuses) < 3:
        statuses.append(await post_notification(http, 12))
    assert statuses in ([503, 200], [200]), statuses
    assert (await http.get("/readyz")).status_code == 200
    await _assert_bursts(http, range(13), extra={create["title"]})
    assert "Traceback" not in server.output(), server.output()


async def _assert_bursts(http: httpx.AsyncClient, expected: range, extra: set[str]) -> None:
    listed = (await http.get("/api/v1/incidents", params={"limit": 200})).json()["items"]
    titles = sorted(i["title"] for i in listed if i["title"] not in extra)
    assert titles == sorted(f"burst {n}" for n in expected)
    for incident in listed:
        if incident["title"] in extra:
            continue
        url = f"/api/v1/incidents/{incident['id']}"
        alerts = (await http.get(f"{url}/alerts")).json()["items"]
        assert [a["fingerprint"] for a in alerts] == [f"{int(incident['title'][6:]):016x}"]
        checklist = (await http.get(f"{url}/checklist")).json()["items"]
        assert len(checklist) == CHECKLIST_ITEMS
        kinds = [e["kind"] for e in (await http.get(f"{url}/timeline")).json()["items"]]
        assert kinds.count("alert_firing") == 1, kinds


BURST = 60


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_sigkill_mid_burst_loses_no_accepted_notification_and_duplicates_none(
    tmp_path, backend
):
    async with fresh_database(backend, tmp_path) as url:
        env = muster_env(
            url, admin_api_key=ADMIN_KEY, alertmanager_token=ALERTMANAGER_TOKEN, db_pool_size="4"
        )
        first = launch(env, tmp_path, name="first")
        try:
            first.wait_until_up()
            answered = await _burst_then_kill(first)
        finally:
            first.stop()
        accepted = sorted(n for n, status in answered.items() if status == 200)
        assert 5 <= len(accepted) < BURST, answered  # killed mid-burst
        assert set(answered.values()) <= {200, None}, answered

        with muster_serve(env, tmp_path) as second:
            async with httpx.AsyncClient(
                base_url=second.base, headers=ADMIN_HEADERS, timeout=30
            ) as http:
                # Every accepted notification's incident survived the kill …
                listed = (await http.get("/api/v1/incidents", params={"limit": 200})).json()
                titles = {incident["title"] for incident in listed["items"]}
                assert {f"burst {n}" for n in accepted} <= titles
                # … Alertmanager resends what got no answer, and repeats (HA pair) the rest.
                await retry_until_accepted(http, [n for n in range(BURST) if n not in accepted])
                for n in accepted[:5]:
                    again = await http.post(ALERTMANAGER, json=notification(n), headers=AM_HEADERS)
                    assert again.json()["status"] == "duplicate", again.text
                await _assert_bursts(http, range(BURST), extra=set())
            assert "Traceback" not in second.output(), second.output()


async def _burst_then_kill(server: Server) -> dict[int, int | None]:
    """Post BURST notifications, 8 at a time; SIGKILL the process once 5 are accepted."""
    answered: dict[int, int | None] = {}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:

        async def send(n: int) -> None:
            async with gate:
                answered[n] = await post_notification(http, n)

        tasks = [asyncio.create_task(send(n)) for n in range(BURST)]
        while sum(status == 200 for status in answered.values()) < 5:
            assert len(answered) < BURST, "the burst ended before the kill"
            await asyncio.sleep(0.001)
        server.process.send_signal(signal.SIGKILL)
        await asyncio.gather(*tasks)
    return answered
