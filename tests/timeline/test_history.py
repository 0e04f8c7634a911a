"""People's timeline entries keep their history: revisions, tombstones, their authors."""

from sqlalchemy import select

from app.core.events import OutboxEvent
from tests.conftest import KeyClient
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, timeline


def _url(incident, suffix=""):
    return f"/api/v1/incidents/{incident['id']}/timeline{suffix}"


async def _events(database, type_: str) -> list[dict]:
    async with database.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxEvent.data).where(OutboxEvent.type == type_).order_by(OutboxEvent.seq)
        )
        return list(rows)


async def test_edits_keep_every_version_and_only_the_author_or_an_admin_edits(
    client, database, key_client: KeyClient
):
    incident = await make_incident(client)
    alice = await key_client("incidents:write", name="alice-laptop", person="alice")
    bob = await key_client("incidents:write", name="bob-phone", person="bob")
    written = await alice.post(_url(incident), json={"summary": "Restarted pods"})
    entry = written.json()
    assert (entry["author"], entry["via"]["key_name"]) == ("alice", "alice-laptop")
    url = _url(incident, f"/{entry['id']}")

    assert_problem(await bob.patch(url, json={"summary": "bob was here"}), 403, "not-author")
    assert_problem(await bob.delete(url), 403, "not-author")
    first = await alice.patch(url, json={"summary": "Restarted 3 pods"})
    assert first.status_code == 200, first.text
    assert first.json()["author"] == "alice"
    by_admin = await client.patch(url, json={"body": "checkout-api, in eu-west"})
    assert by_admin.status_code == 200, by_admin.text
    reattributed = await alice.patch(url, json={"author": "bob"})  # authors are not edited
    assert reattributed.status_code == 422
    assert [e["field"] for e in reattributed.json()["errors"]] == ["body.author"]

    assert_problem(await alice.get(url + "/revisions"), 403, "forbidden")
    revisions = (await client.get(url + "/revisions")).json()
    assert [(r["number"], r["summary"], r["body"], r["written_by"]) for r in revisions] == [
        (1, "Restarted pods", None, "alice"),
        (2, "Restarted 3 pods", None, "alice"),
        (3, "Restarted 3 pods", "checkout-api, in eu-west", "service:bootstrap-admin"),
    ]
    assert [r["via"]["key_name"] for r in revisions] == [
        "alice-laptop",
        "alice-laptop",
        "bootstrap-admin",
    ]
    assert revisions[0]["written_at"] == entry["created_at"]
    updated = await _events(database, "timeline.event_updated")
    assert [(e["revision"], e["entry"]["summary"]) for e in updated] == [
        (2, "Restarted 3 pods"),
        (3, "Restarted 3 pods"),
    ]


async def test_an_entry_never_edited_has_one_version(client):
    incident = await make_incident(client)
    entry = (await client.post(_url(incident), json={"summary": "Paged the DBA"})).json()
    revisions = (await client.get(_url(incident, f"/{entry['id']}/revisions"))).json()
    assert [(r["number"], r["summary"], r["written_by"]) for r in revisions] == [
        (1, "Paged the DBA", "service:bootstrap-admin")
    ]


async def test_a_deleted_entry_is_a_tombstone(client, database, key_client: KeyClient):
    incident = await make_incident(client)
    alice = await key_client("incidents:write", name="alice-laptop", person="alice")
    entry = (await alice.post(_url(incident), json={"summary": "Blamed the CDN"})).json()
    url = _url(incident, f"/{entry['id']}")
    assert (await alice.delete(url)).status_code == 204

    assert entry["id"] not in [e["id"] for e in await timeline(client, incident)]
    assert_problem(
        await alice.get(_url(incident), params={"include_deleted": "true"}), 403, "forbidden"
    )
    listed = await timeline(client, incident, include_deleted="true")
    (tombstone,) = [e for e in listed if e["id"] == entry["id"]]
    assert (tombstone["summary"], tombstone["deleted_by"]) == ("Blamed the CDN", "alice")
    assert tombstone["deleted_at"] is not None
    assert tombstone["deleted_via"]["key_name"] == "alice-laptop"
    (deleted,) = await _events(database, "timeline.event_deleted")
    assert (deleted["entry"]["id"], deleted["entry"]["deleted_by"]) == (entry["id"], "alice")

    assert_problem(await alice.patch(url, json={"summary": "again"}), 404, "not-found")
    assert_problem(await client.delete(url), 404, "not-found")
    revisions = (await client.get(url + "/revisions")).json()
    assert [r["summary"] for r in revisions] == ["Blamed the CDN"]

    postmortem = (await client.get(f"/api/v1/incidents/{incident['id']}/postmortem")).json()
    (line,) = [e for e in postmortem["timeline"] if e["deleted"]]
    assert line["author"] == "alice"
    assert line["summary"].startswith("An entry was deleted by alice at ")
    assert "Blamed the CDN" not in str(postmortem)
    markdown = await client.get(
        f"/api/v1/incidents/{incident['id']}/postmortem", headers={"Accept": "text/markdown"}
    )
    assert "An entry was deleted by alice at " in markdown.text
    assert "Blamed the CDN" not in markdown.text


async def test_generated_entries_stay_read_only_even_for_an_admin(client):
    incident = await make_incident(client)
    (opened,) = await timeline(client, incident)
    url = _url(incident, f"/{opened['id']}")
    assert_problem(await client.patch(url, json={"summary": "x"}), 409, "generated-entry-read-only")
    assert_problem(await client.delete(url), 409, "generated-entry-read-only")
