"""A key revoked on this process is refused at once, even when a request raced the commit."""

import asyncio
import contextlib

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import KeyCache
from tests.auth.test_api_keys import create_key


@pytest.fixture
def held_commit(monkeypatch: pytest.MonkeyPatch):
    """Hold the next commit until released: the window a concurrent request can fall in."""
    held, release = asyncio.Event(), asyncio.Event()
    armed = [False]
    commit = AsyncSession.commit

    async def holding(self: AsyncSession) -> None:
        if armed[0]:
            armed[0] = False
            held.set()
            await release.wait()
        await commit(self)

    monkeypatch.setattr(AsyncSession, "commit", holding)
    return held, release, lambda: armed.__setitem__(0, True)


@pytest.fixture
def long_cache(app):
    """A long cache time: whatever is cached shows."""
    original = app.state.api_keys
    app.state.api_keys = KeyCache(60)
    yield
    app.state.api_keys = original


@pytest.mark.usefixtures("long_cache")
async def test_a_request_racing_the_revocation_does_not_cache_the_key_again(
    client, anon_client, held_commit
):
    created = await create_key(client, "incidents:read")
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await anon_client.get("/api/v1/incidents", headers=headers)).status_code == 200

    held, release, arm = held_commit
    arm()
    revoking = asyncio.create_task(client.delete(f"/api/v1/api-keys/{created['id']}"))
    await asyncio.wait_for(held.wait(), 5)
    # Meanwhile a request with the key reads it (still valid: not committed yet).
    racing = asyncio.create_task(anon_client.get("/api/v1/incidents", headers=headers))
    with contextlib.suppress(TimeoutError):  # SQLite's one connection makes it wait instead
        await asyncio.wait_for(asyncio.shield(racing), 1)
    release.set()
    assert (await revoking).status_code == 200
    assert (await racing).status_code in (200, 401)

    after = await anon_client.get("/api/v1/incidents", headers=headers)
    assert after.status_code == 401, "revoked on this process, at once"
