"""/readyz during a rolling upgrade: a schema behind the code is not servable, one ahead is.

The Helm chart migrates in a pre-upgrade Job while the previous release still serves; those
pods must stay ready on a schema newer than they know, or an upgrade would take every pod
out of the Service at once.
"""

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from app.core import migrations
from app.main import create_app
from tests.conftest import BACKENDS, fresh_database, make_settings


async def _readyz(url: str) -> httpx.Response:
    app = create_app(make_settings(url, auto_migrate=False))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        return await http.get("/readyz")


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_a_schema_migrated_by_a_newer_release_keeps_the_old_pods_ready(
    backend_name, tmp_path
):
    async with fresh_database(backend_name, tmp_path) as url:
        app = create_app(make_settings(url))
        async with (
            app.router.lifespan_context(app),
            app.state.database.engine.begin() as connection,
        ):
            await connection.execute(text("UPDATE alembic_version SET version_num = 'a1b2c3'"))

        response = await _readyz(url)
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == "a1b2c3"


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_a_schema_behind_the_code_is_not_ready(backend_name, tmp_path):
    head = migrations.head_revision()
    previous = ScriptDirectory.from_config(migrations.alembic_config()).get_revision(head)
    assert previous is not None
    older = previous.down_revision
    assert isinstance(older, str), "needs at least two revisions"
    async with fresh_database(backend_name, tmp_path) as url:
        app = create_app(make_settings(url))
        async with app.router.lifespan_context(app):
            await migrations.downgrade(app.state.database.engine, older)

        response = await _readyz(url)
    assert response.status_code == 503
    assert f"at {older}, not at {head}" in response.json()["detail"]
    assert "muster migrate" in response.json()["detail"]
