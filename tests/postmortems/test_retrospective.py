"""The retrospective people write: drafted from the record, edited with If-Match,
reviewed, published (immutable) and revised; merged with the record in Markdown."""

from typing import Any

import httpx

from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident, move
from tests.postmortems.helpers import add_item, events
from tests.postmortems.markdown_reader import read

MARKDOWN = {"Accept": "text/markdown"}


async def incident_with_a_record(client: httpx.AsyncClient, clock) -> dict[str, Any]:
    incident = await make_incident(
        client, title="Checkout 502s", summary="Errors after v2.4.0.", services=["checkout"]
    )
    clock.advance(minutes=4)
    await join(client, incident, "sam", "sre")
    clock.advance(minutes=26)
    await move(client, incident, "mitigated")
    return incident


def url(incident: dict[str, Any], tail: str = "") -> str:
    return f"/api/v1/incidents/{incident['reference']}/postmortem{tail}"


async def put(
    client: httpx.AsyncClient, incident: dict[str, Any], etag: str | None, **sections: Any
) -> httpx.Response:
    headers = {"If-Match": etag} if etag else {}
    return await client.put(url(incident), json=sections, headers=headers)


async def test_the_first_write_starts_from_the_draft_and_keeps_what_was_sent(client, clock):
    incident = await incident_with_a_record(client, clock)
    response = await put(client, incident, None, where_we_were_lucky="Before the peak.")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert response.headers["etag"] == doc["etag"]
    assert doc | {"etag": None, "created_at": None, "updated_at": None} == {
        "incident_id": incident["id"],
        "incident_reference": "INC-1",
        "state": "draft",
        "revision": 1,
        "etag": None,
        "published_revisions": 0,
        "summary": "Errors after v2.4.0.",
        "impact": "sev2 impact on checkout from 2026-03-02 09:00 UTC to 2026-03-02 09:30 UTC "
        "(30 min), until mitigated.",
        "what_went_well": "- SRE engaged 4 min after the impact began.\n"
        "- Mitigated 30 min after the impact began.",
        "what_went_wrong": "- Checklist items not done: Error types and metrics checked; "
        "Recent releases reviewed; Rollback decided (yes / no, and why); Incident "
        "commander assigned; Stakeholders notified; Recovery verified.",
        "where_we_were_lucky": "Before the peak.",
        "notes": None,
        "created_by": "service:bootstrap-admin",
        "created_at": None,
        "updated_by": "service:bootstrap-admin",
        "updated_via": {
            "credential": "api_key",
            "key_id": None,
            "key_name": "bootstrap-admin",
            "subject": None,
        },
        "updated_at": None,
    }
    # What people wrote is what the postmortem shows from now on.
    stored = (await client.get(url(incident))).json()["retrospective"]
    assert stored == doc


async def test_two_editors_one_loses_with_412_and_nobody_writes_blind(client, clock):
    incident = await incident_with_a_record(client, clock)
    first = await put(client, incident, None)
    tag = first.headers["etag"]
    # Both editors read the same version; the first to write wins.
    alice = await put(client, incident, tag, what_went_wrong="- No pool saturation alert.")
    assert alice.status_code == 200, alice.text
    assert alice.headers["etag"] != tag
    bob = await put(client, incident, tag, what_went_wrong="- Bob's take.")
    assert_problem(bob, 412, "precondition-failed")
    assert bob.json()["current_etag"] == alice.headers["etag"]
    blind = await put(client, incident, None, notes="no If-Match")
    assert_problem(blind, 428, "precondition-required")
    garbled = await put(client, incident, "not-a-tag", notes="x")
    assert_problem(garbled, 400, "bad-request")
    after = (await client.get(url(incident))).json()["retrospective"]
    assert after["what_went_wrong"] == "- No pool saturation alert."
    assert after["notes"] is None
    assert after["etag"] == alice.headers["etag"]


async def test_review_publish_then_revise_keeps_the_published_revision(client, database, clock):
    incident = await incident_with_a_record(client, clock)
    draft = await put(client, incident, None, notes="First take.")
    early = await client.post(url(incident, "/publish"))
    assert_problem(early, 409, "invalid-retrospective-transition")

    review = await client.post(
        url(incident, "/review"), headers={"If-Match": draft.headers["etag"]}
    )
    assert review.status_code == 200, review.text
    assert review.json()["state"] == "in_review"
    stale = await client.post(
        url(incident, "/publish"), headers={"If-Match": draft.headers["etag"]}
    )
    assert_problem(stale, 412, "precondition-failed")
    clock.advance(minutes=5)
    published = await client.post(url(incident, "/publish"))
    assert published.status_code == 200, published.text
    assert (published.json()["state"], published.json()["published_revisions"]) == ("published", 1)
    again = await client.post(url(incident, "/publish"))
    assert_problem(again, 409, "invalid-retrospective-transition")

    (event,) = await events(database, "postmortem.published")
    assert event["incident"]["reference"] == "INC-1"
    assert (event["revision"], event["sections"]["notes"]) == (1, "First take.")
    assert event["published_at"] == "2026-03-02T09:35:00Z"

    # A change after publishing starts revision 2; revision 1 stays as published.
    revised = await put(client, incident, published.headers["etag"], notes="Second take.")
    assert revised.status_code == 200, revised.text
    assert (revised.json()["state"], revised.json()["revision"]) == ("draft", 2)
    assert revised.json()["published_revisions"] == 1
    page = (await client.get(url(incident, "/revisions"))).json()
    assert [(r["revision"], r["sections"]["notes"]) for r in page["items"]] == [(1, "First take.")]
    assert page["next_cursor"] is None

    await client.post(url(incident, "/review"))
    await client.post(url(incident, "/publish"))
    page = (await client.get(url(incident, "/revisions"))).json()
    assert [(r["revision"], r["sections"]["notes"]) for r in page["items"]] == [
        (1, "First take."),
        (2, "Second take."),
    ]
    assert len(await events(database, "postmortem.published")) == 2
    kinds = [
        e["summary"]
        for e in (await client.get("/api/v1/incidents/INC-1/timeline?kind=postmortem")).json()[
            "items"
        ]
    ]
    assert kinds == [
        "Retrospective started",
        "Retrospective sent for review",
        "Retrospective revision 1 published",
        "Retrospective revision 2 started",
        "Retrospective sent for review",
        "Retrospective revision 2 published",
    ]


async def test_a_write_that_changes_nothing_keeps_the_version(client, clock):
    incident = await incident_with_a_record(client, clock)
    first = await put(client, incident, None, notes="n")
    same = await put(client, incident, first.headers["etag"], notes="n")
    assert same.headers["etag"] == first.headers["etag"]


async def test_review_before_anything_is_written_is_404(client, clock):
    incident = await incident_with_a_record(client, clock)
    assert_problem(await client.post(url(incident, "/review")), 404, "retrospective-not-found")
    assert_problem(await put(client, incident, '"abc.1"', notes="x"), 412, "precondition-failed")


async def test_the_markdown_merges_what_people_wrote_with_the_record(client, clock):
    incident = await incident_with_a_record(client, clock)
    factor = await client.post(
        f"/api/v1/incidents/{incident['id']}/contributing-factors",
        json={"category": "observability_gap", "description": "No pool metric."},
    )
    await add_item(
        client,
        incident,
        title="Pool saturation alert",
        addresses=factor.json()["id"],
        tracker_url="https://tracker.example.com/browse/OPS-7",
        external_id="OPS-7",
    )
    await put(
        client,
        incident,
        None,
        what_went_well="- The rollback was quick.\n- SRE joined at once.",
        what_went_wrong="We had no alert.\n\n- <script>alert(1)</script>\n- [x](javascript:y)",
        notes="# not a heading",
    )
    response = await client.get(url(incident), headers=MARKDOWN)
    assert response.headers["etag"].startswith('"')
    md = read(response.text)
    assert [title for level, title in md.headings if level == 2] == [
        "Summary",
        "Impact",
        "What went well",
        "What went wrong",
        "Where we were lucky",
        "Contributing factors",
        "Participants",
        "Timeline",
        "Updates",
        "Suspect deploys",
        "Rollback reviews",
        "Checklist",
        "Action items",
        "Notes",
    ]
    html = md.html
    assert "<h2>What went well</h2>\n<ul>\n<li>The rollback was quick.</li>\n" in html
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in html
    assert "<li>[x](javascript:y)</li>" in html
    assert "<script" not in html
    assert 'href="javascript' not in html
    assert "<p># not a heading</p>" in html
    assert "<h2>Where we were lucky</h2>\n<p><em>Nothing written yet.</em></p>" in html
    assert md.rows("Contributing factors") == [["observability_gap", "No pool metric.", "checkout"]]
    (item,) = md.rows("Action items")
    assert item[-2:] == ["observability_gap", "OPS-7"]
    assert '<a href="https://tracker.example.com/browse/OPS-7">OPS-7</a>' in html
    assert md.rows("INC-1: Checkout 502s")[-1] == [
        "Retrospective",
        "revision 1, draft",
    ]
