"""Every API test runs twice: on SQLite and on PostgreSQL, through the real HTTP stack.

Each backend gets a fresh database per test session, built by `alembic upgrade head`
(the app's own start-up migration); after each test every table is emptied, so tests
see real commits and real constraints yet never leak state into one another.
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import NoReturn

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.db import Database
from app.core.settings import Settings
from app.incidents.models import NUMBER_SEQUENCE
from app.main import create_app
from app.models import metadata
from tests.clock import clock

__all__ = ["clock"]  # a fixture for every test

ADMIN_KEY = "test-admin-key-0123456789"
ALERTMANAGER_TOKEN = "am-secret-token"  # what the captured fixtures were sent with
# Payloads captured from or published by the real senders (provenance: tests/fixtures/README.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures"
POSTGRES_URL = os.environ.get(
    "MUSTER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("MUSTER_TEST_REQUIRE_POSTGRES") == "1"
# In CI (and wherever PostgreSQL is required) nothing a test needs may be missing.
EVERYTHING_REQUIRED = REQUIRE_POSTGRES or bool(os.environ.get("CI"))


def unavailable(reason: str) -> NoReturn:
    """What a test needs is not on this machine: a failure where everything is required
    (CI), a skip saying why elsewhere."""
    if EVERYTHING_REQUIRED:
        pytest.fail(f"required here, but {reason}")
    pytest.skip(reason)


BACKENDS = ["sqlite", "postgres"]


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def fresh_database(backend: str, tmp_dir: Path) -> AsyncIterator[str]:
    """A new, empty database for `backend`; dropped afterwards. Yields its SQLAlchemy URL."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'muster-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"muster_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(plain_dsn(POSTGRES_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL is unreachable at {POSTGRES_URL}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = POSTGRES_URL.rpartition("/")
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "admin_api_key": ADMIN_KEY,
        "alertmanager_token": ALERTMANAGER_TOKEN,
        "auto_migrate": True,
        "db_pool_size": 5,
        # Deliveries retry and time out fast, so notification tests take seconds.
        "dispatch_poll_seconds": 0.1,
        "timer_poll_seconds": 0.1,
        "delivery_timeout_seconds": 1.0,
        "delivery_lease_seconds": 3.0,
        "delivery_backoff_base_seconds": 0.05,
        "delivery_backoff_cap_seconds": 0.2,
        "delivery_max_attempts": 4,
        "stream_heartbeat_seconds": 0.2,
        # Test receivers listen on loopback, closed to subscriptions by default.
        "notify_allowed_networks": ["127.0.0.0/8"],
        # No update cadence: tests that move the clock by hours would have reminders
        # fire behind them. The cadence's own tests set one (tests/status_updates).
        "update_cadence": {},
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def serving(
    url: str, **overrides: object
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own on the database at `url`, started, and an admin client of it."""
    app = create_app(make_settings(url, **overrides))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://muster.test",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as client,
    ):
        yield app, client


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db")


@pytest.fixture(scope="session")
async def app(backend: str, session_tmp: Path) -> AsyncIterator[FastAPI]:
    async with fresh_database(backend, session_tmp) as url:
        application = create_app(make_settings(url))
        async with application.router.lifespan_context(application):
            yield application


@pytest.fixture
async def database(app: FastAPI) -> AsyncIterator[Database]:
    """The app's database; every table is emptied after the test, and with it what the
    app remembers of their rows."""
    database: Database = app.state.database
    yield database
    app.state.seen_notifications.clear()
    # The app's dispatcher may be mid-turn on the same rows: on PostgreSQL the two can
    # deadlock, and when the emptying is the one aborted, it is simply done again.
    for attempt in range(5):
        try:
            async with database.engine.begin() as connection:
                for table in reversed(metadata.sorted_tables):
                    if table.name == AUDIT_TABLE:
                        await empty_audit_trail(connection)
                    else:
                        await connection.execute(delete(table))
                if connection.dialect.name == "postgresql":
                    await connection.execute(text(f"ALTER SEQUENCE {NUMBER_SEQUENCE} RESTART"))
            return
        except DBAPIError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise


AUDIT_TABLE = "audit_events"


async def empty_audit_trail(connection: AsyncConnection) -> None:
    """Empty the audit trail, whose triggers refuse DELETE: set aside for this transaction."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text(f"ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER USER"))
        await connection.execute(text(f"DELETE FROM {AUDIT_TABLE}"))
        await connection.execute(text(f"ALTER TABLE {AUDIT_TABLE} ENABLE TRIGGER USER"))
        return
    triggers = (
        await connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": AUDIT_TABLE},
        )
    ).all()
    for name, _ in triggers:
        await connection.execute(text(f'DROP TRIGGER "{name}"'))
    await connection.execute(text(f"DELETE FROM {AUDIT_TABLE}"))
    for _, sql in triggers:
        await connection.execute(text(sql))


@pytest.fixture
async def client(
    app: FastAPI,
    database: Database,  # noqa: ARG001 - requested for its clean-up: tables emptied afterwards
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://muster.test",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as http:
        yield http


@pytest.fixture
async def anon_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no credentials."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://muster.test"
    ) as http:
        yield http


KeyClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def key_client(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[KeyClient]:
    """Clients with API keys of their own, made by the admin through the API:
    `alice = await key_client("incidents:write", person="alice")`; a service key
    without `person`. Set `Muster-Acting-For` in a client's `headers` to act for someone.
    """
    async with AsyncExitStack() as stack:

        async def make(
            *scopes: str, name: str = "key", person: str | None = None
        ) -> httpx.AsyncClient:
            body = {"name": name, "scopes": list(scopes)} | ({"person": person} if person else {})
            created = await client.post("/api/v1/api-keys", json=body)
            assert created.status_code == 201, created.text
            return await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://muster.test",
                    headers={"Authorization": f"Bearer {created.json()['key']}"},
                )
            )

        yield make
