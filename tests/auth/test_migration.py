"""The actors migrations: existing keys become service keys, existing records keep their
handles and show `via: null`."""

import uuid

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app.auth.service import create_api_key
from app.core import migrations
from app.core.clock import utcnow
from app.core.db import Database
from app.core.security import Scope
from tests.conftest import BACKENDS, fresh_database, make_settings, serving


def _before_actors() -> str:
    """The revision just before personal keys, whatever number they were given."""
    scripts = ScriptDirectory.from_config(migrations.alembic_config())
    (personal,) = [s for s in scripts.walk_revisions() if "personal_keys" in (s.path or "")]
    assert isinstance(personal.down_revision, str)
    return personal.down_revision


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_old_keys_are_service_keys_and_old_records_show_no_credential(backend_name, tmp_path):
    async with fresh_database(backend_name, tmp_path) as url:
        database = Database.from_settings(make_settings(url))
        incident_id, entry_id, now = uuid.uuid4(), uuid.uuid4(), utcnow()
        try:
            await migrations.upgrade(database.engine, _before_actors())
            async with database.engine.begin() as connection:
                await connection.execute(
                    sa.text(
                        "INSERT INTO api_keys (id, name, prefix, secret_hash, scopes, created_at)"
                        " VALUES (:id, 'ci', 'abc123', :hash, :scopes, :now)"
                    ),
                    {"id": uuid.uuid4().hex, "hash": "0" * 64, "scopes": '["admin"]', "now": now},
                )
                await connection.execute(
                    sa.text(
                        "INSERT INTO incidents (id, number, title, severity, status, services,"
                        " labels, source, started_at, created_at, updated_at) VALUES (:id, 1,"
                        " 'Old', 'sev2', 'triggered', '[]', '{}', 'api', :now, :now, :now)"
                    ),
                    {"id": incident_id.hex, "now": now},
                )
                await connection.execute(
                    sa.text(
                        "INSERT INTO timeline_entries (id, incident_id, kind, summary, author,"
                        " data, occurred_at, created_at) VALUES (:id, :incident, 'note',"
                        " 'Old note', 'Alice', '{}', :now, :now)"
                    ),
                    {"id": entry_id.hex, "incident": incident_id.hex, "now": now},
                )
            await migrations.upgrade(database.engine)
        finally:
            await database.dispose()

        async with serving(url) as (app, client):
            keys = (await client.get("/api/v1/api-keys")).json()["items"]
            assert [(k["name"], k["person"]) for k in keys] == [("ci", None)]
            (entry,) = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()[
                "items"
            ]
            assert (entry["author"], entry["via"], entry["deleted_at"]) == ("Alice", None, None)
            # The old handle is still its author's: alice, however it was spelt then.
            async with app.state.database.sessionmaker() as session, session.begin():
                _, key = await create_api_key(
                    session, name="alice", scopes=[Scope.INCIDENTS_WRITE], person="alice"
                )
            edited = await client.patch(
                f"/api/v1/incidents/{incident_id}/timeline/{entry_id}",
                json={"summary": "Old note, corrected"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert edited.status_code == 200, edited.text
            revisions = await client.get(
                f"/api/v1/incidents/{incident_id}/timeline/{entry_id}/revisions"
            )
            first, second = revisions.json()
            assert (first["written_by"], first["via"], first["summary"]) == (
                "Alice",
                None,
                "Old note",
            )
            assert (second["written_by"], second["via"]["key_name"]) == ("alice", "alice")
