"""A committed event wakes the dispatcher at once: in its own process, and on PostgreSQL
in every replica, with polling only as the fallback.

Each test sets the poll interval to a minute, so a page that arrives within seconds
was sent because the commit woke a dispatcher, not because it polled.
"""

import asyncio

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN_KEY, fresh_database, plain_dsn
from tests.notifications.conftest import running_app
from tests.notifications.receiver import Receiver, eventually
from tests.notifications.test_processes import Muster

POLL = "60"
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def _paged(receiver: Receiver, count: int) -> bool:
    return len([r for r in receiver.received if r.json()["type"] == "incident.escalated"]) >= count


async def test_a_commit_wakes_the_dispatcher_in_its_process(backend, tmp_path, receiver):
    async with running_app(
        backend, tmp_path, dispatch_poll_seconds=float(POLL), sre_notify_urls=[receiver.url]
    ) as (_, client):
        for count in (1, 2, 3):
            # Past the turn that a finished send starts: the dispatcher now sleeps.
            await asyncio.sleep(0.5)
            made = await client.post("/api/v1/incidents", json={"title": f"Wake {count}"})
            assert made.status_code == 201
            await eventually(lambda c=count: _paged(receiver, c), timeout=5, message="the page")


@pytest.fixture
async def postgres_url(tmp_path):
    async with fresh_database("postgres", tmp_path) as url:
        yield url


async def test_a_commit_in_one_replica_wakes_the_dispatcher_of_another(
    tmp_path, receiver, postgres_url
):
    """Replica A dispatches; replica B, which does not, takes the request."""
    common = {"MUSTER_DISPATCH_POLL_SECONDS": POLL, "MUSTER_SRE_NOTIFY_URLS": receiver.url}
    dispatching = Muster(tmp_path, postgres_url, "a", **common).start()
    serving = Muster(tmp_path, postgres_url, "b", MUSTER_DISPATCHER_ENABLED="false", **common)
    try:
        await dispatching.ready()
        serving.start()
        await serving.ready()
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient(base_url=serving.base, headers=HEADERS) as http:
            made = await http.post("/api/v1/incidents", json={"title": "Across replicas"})
            assert made.status_code == 201
            await eventually(lambda: _paged(receiver, 1), timeout=5, message="the first page")
            await asyncio.sleep(0.5)

            # The listener's connection is cut: it reconnects, and wakes the dispatcher
            # again for what it may have missed; new commits still wake it.
            admin = await asyncpg.connect(plain_dsn(postgres_url))
            try:
                cut = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            finally:
                await admin.close()
            assert cut == 1, "one dispatcher, one LISTEN connection"
            await eventually(lambda: _listening(postgres_url), timeout=10, message="relisten")
            await asyncio.sleep(0.5)
            made = await http.post("/api/v1/incidents", json={"title": "After the cut"})
            assert made.status_code == 201
            await eventually(lambda: _paged(receiver, 2), timeout=5, message="the second page")
    finally:
        serving.kill()
        dispatching.kill()


async def _listening(url: str) -> bool:
    admin = await asyncpg.connect(plain_dsn(url))
    try:
        return bool(
            await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        )
    finally:
        await admin.close()
