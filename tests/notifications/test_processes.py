"""Real `muster` processes: killed mid-flight, restarted, run side by side, dispatching alone.

Nothing committed is lost: a process killed with SIGKILL before or during a delivery
leaves the work in the database, and the next dispatcher delivers it. Two processes
on one PostgreSQL database share the queue without sending anything twice.
"""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from standardwebhooks import Webhook

from app.core.db import Database
from app.core.events import OutboxEvent
from app.notifications.models import Delivery
from tests.conftest import ADMIN_KEY, fresh_database, make_settings
from tests.notifications.conftest import deliveries, settled, subscribe
from tests.notifications.receiver import Receiver, eventually, free_port

MUSTER = Path(sys.executable).parent / "muster"
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}


class Muster:
    """One `muster` process (serve by default) with fast delivery settings."""

    def __init__(self, tmp_path: Path, database_url: str, name: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"{name}.log"
        self.env = (
            os.environ
            | {
                "MUSTER_DATABASE_URL": database_url,
                "MUSTER_HOST": "127.0.0.1",
                "MUSTER_PORT": str(self.port),
                "MUSTER_ADMIN_API_KEY": ADMIN_KEY,
                "MUSTER_LOG_LEVEL": "WARNING",
                "MUSTER_DISPATCH_POLL_SECONDS": "0.1",
                "MUSTER_DELIVERY_TIMEOUT_SECONDS": "1",
                "MUSTER_DELIVERY_LEASE_SECONDS": "3",
                "MUSTER_DELIVERY_BACKOFF_BASE_SECONDS": "0.1",
                "MUSTER_DELIVERY_BACKOFF_CAP_SECONDS": "0.5",
                "MUSTER_DELIVERY_MAX_ATTEMPTS": "100",
                "MUSTER_NOTIFY_ALLOWED_NETWORKS": "127.0.0.0/8",  # the receiver's
            }
            | env
        )
        self.cwd = tmp_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, command: str = "serve") -> "Muster":
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [MUSTER, command], env=self.env, stdout=log, stderr=log, cwd=self.cwd
        )
        return self

    async def ready(self) -> None:
        async def answers() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"muster exited:\n{self.log_path.read_text()}")
            try:
                async with httpx.AsyncClient() as http:
                    return (await http.get(f"{self.base}/readyz", timeout=1)).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, timeout=60, message=f"muster on port {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@asynccontextmanager
async def postgres(tmp_path: Path) -> AsyncIterator[tuple[str, Database]]:
    async with fresh_database("postgres", tmp_path) as url:
        database = Database.from_settings(make_settings(url))
        try:
            yield url, database
        finally:
            await database.dispose()


async def delivery_rows(database: Database) -> list[Delivery]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(Delivery))).all())


async def test_an_event_committed_before_a_sigkill_is_delivered_after_restart(tmp_path):
    receiver = Receiver()  # down for now
    processes: list[Muster] = []
    try:
        async with postgres(tmp_path) as (url, database):
            first = Muster(tmp_path, url, "first").start()
            processes.append(first)
            await first.ready()
            async with httpx.AsyncClient(base_url=first.base, headers=HEADERS) as http:
                subscription = await subscribe(http, receiver.url, events=["incident.created"])
                created = await http.post("/api/v1/incidents", json={"title": "Committed"})
                assert created.status_code == 201

                async def attempted() -> bool:
                    return any(d["attempts"] for d in await deliveries(http, subscription))

                await eventually(attempted, message="a failed attempt")
            first.kill()
            (row,) = await delivery_rows(database)
            assert row.status != "delivered"

            receiver.start()
            second = Muster(tmp_path, url, "second").start()
            processes.append(second)
            await second.ready()
            (request,) = await eventually(lambda: receiver.received, message="redelivery")
            payload = Webhook(subscription["secret"]).verify(request.body, request.headers)
            assert payload["data"]["incident"]["id"] == created.json()["id"]
            assert request.webhook_id == str(row.id)
            (row,) = await eventually(
                lambda: filtered(delivery_rows(database), status="delivered"), message="recorded"
            )
            assert row.attempts >= 2
    finally:
        for process in processes:
            process.kill()
        receiver.stop()


async def test_a_delivery_in_flight_when_killed_is_sent_again_after_its_lease(tmp_path):
    receiver = Receiver().start()
    receiver.script = ["hang"]
    processes: list[Muster] = []
    slow = {"MUSTER_DELIVERY_TIMEOUT_SECONDS": "2", "MUSTER_DELIVERY_LEASE_SECONDS": "5"}
    try:
        async with postgres(tmp_path) as (url, database):
            first = Muster(tmp_path, url, "first", **slow).start()
            processes.append(first)
            await first.ready()
            async with httpx.AsyncClient(base_url=first.base, headers=HEADERS) as http:
                await subscribe(http, receiver.url, events=["incident.created"])
                assert (
                    await http.post("/api/v1/incidents", json={"title": "x"})
                ).status_code == 201
            await eventually(lambda: receiver.received, message="the attempt in flight")
            first.kill()
            (row,) = await delivery_rows(database)
            assert (row.status, row.attempts) == ("delivering", 1)

            receiver.release()
            second = Muster(tmp_path, url, "second", **slow).start()
            processes.append(second)
            (row,) = await eventually(
                lambda: filtered(delivery_rows(database), status="delivered"),
                message="delivered after the lease",
            )
            assert row.attempts == 2
            assert receiver.by_id() == {str(row.id): 2}  # at least once: same webhook-id
    finally:
        for process in processes:
            process.kill()
        receiver.stop()


async def test_two_processes_on_one_database_deliver_every_event_exactly_once(tmp_path):
    receiver = Receiver().start()
    processes: list[Muster] = []
    try:
        async with postgres(tmp_path) as (url, database):
            for name in ("one", "two"):
                process = Muster(tmp_path, url, name).start()
                processes.append(process)
                await process.ready()
            clients = [
                httpx.AsyncClient(base_url=process.base, headers=HEADERS, timeout=30)
                for process in processes
            ]
            try:
                await subscribe(clients[0], receiver.url, events=["*"])
                gate = asyncio.Semaphore(16)

                async def create(n: int) -> None:
                    async with gate:
                        response = await clients[n % 2].post(
                            "/api/v1/incidents", json={"title": f"storm {n}"}
                        )
                        assert response.status_code == 201, response.text

                await asyncio.gather(*(create(n) for n in range(200)))
            finally:
                for http in clients:
                    await http.aclose()

            async with database.sessionmaker() as session:
                events = await session.scalar(select(func.count()).select_from(OutboxEvent))
            assert events >= 400  # at least incident.created and its timeline entry, each

            async def all_delivered() -> bool:
                return len(receiver.by_id()) >= events and await settled(database)

            await eventually(all_delivered, timeout=90, message="every event delivered")
            rows = await delivery_rows(database)
            assert len(rows) == events
            assert {row.status for row in rows} == {"delivered"}
            received = receiver.by_id()
            assert set(received) == {str(row.id) for row in rows}
            assert set(received.values()) == {1}, "a webhook-id arrived more than once"
    finally:
        for process in processes:
            process.kill()
        receiver.stop()


async def test_muster_dispatch_delivers_for_api_processes_that_do_not(tmp_path, receiver):
    url = f"sqlite+aiosqlite:///{tmp_path}/muster.db"
    api = Muster(tmp_path, url, "api", MUSTER_DISPATCHER_ENABLED="false").start()
    worker = Muster(tmp_path, url, "worker")
    try:
        await api.ready()
        async with httpx.AsyncClient(base_url=api.base, headers=HEADERS) as http:
            subscription = await subscribe(http, receiver.url, events=["incident.created"])
            assert (await http.post("/api/v1/incidents", json={"title": "x"})).status_code == 201
            await asyncio.sleep(1)
            assert receiver.received == []
            assert await deliveries(http, subscription) == []  # not even fanned out

            worker.start("dispatch")
            await eventually(lambda: receiver.received, message="the dispatcher's delivery")
            (delivery,) = await eventually(
                lambda: deliveries(http, subscription, status="delivered"), message="recorded"
            )
            assert delivery["id"] == receiver.received[0].webhook_id
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(15) == 0
    finally:
        api.kill()
        worker.kill()


async def filtered(rows: Any, **where: Any) -> list[Delivery]:
    return [row for row in await rows if all(getattr(row, k) == v for k, v in where.items())]
