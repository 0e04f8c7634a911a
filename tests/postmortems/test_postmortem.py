"""The postmortem draft of a scripted incident, as JSON and as Markdown."""

from typing import Any

import httpx
import pytest

from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident, move
from tests.postmortems.helpers import add_item
from tests.postmortems.markdown_reader import read
from tests.rollbacks.helpers import decide, propose

MARKDOWN = {"Accept": "text/markdown"}
SECTIONS = [
    "Summary",
    "Impact",
    "Contributing factors",
    "Participants",
    "Timeline",
    "Updates",
    "Suspect deploys",
    "Rollback reviews",
    "Checklist",
    "Action items",
]


async def deploy(client: httpx.AsyncClient, service: str, version: str, **fields: Any) -> str:
    body = {"service": service, "environment": "production", "version": version} | fields
    response = await client.post("/api/v1/deploys", json={"status": "succeeded"} | body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def scripted_incident(client: httpx.AsyncClient, clock) -> dict[str, Any]:
    """INC-1 on checkout and payments, from impact at 09:00 to resolution at 11:00."""
    await deploy(
        client,
        "checkout",
        "v2.3.0",
        started_at="2026-03-01T07:55:00Z",
        finished_at="2026-03-01T08:05:00Z",
    )
    suspect = await deploy(
        client,
        "checkout",
        "v2.4.0",
        started_at="2026-03-02T08:20:00Z",
        finished_at="2026-03-02T08:30:00Z",
    )
    await deploy(
        client,
        "payments",
        "v7",
        status="failed",
        started_at="2026-03-01T20:00:00Z",
        finished_at="2026-03-01T20:10:00Z",
    )
    await deploy(
        client,
        "checkout",
        "v2.4.1",
        started_at="2026-03-02T08:55:00Z",
        finished_at="2026-03-02T09:10:00Z",
    )
    await deploy(client, "search", "v1", started_at="2026-03-02T08:50:00Z")
    await deploy(client, "checkout", "v2.4.2", started_at="2026-03-02T09:30:00Z")

    incident = await make_incident(
        client,
        title="Checkout 502s",
        summary="Error rate jumped after the deploy.\nRollback helped.",
        severity="sev2",
        services=["checkout", "payments"],
    )
    url = f"/api/v1/incidents/{incident['id']}"
    clock.advance(minutes=2)  # 09:02
    await move(client, incident, "acknowledged")
    clock.advance(minutes=1)  # 09:03
    await join(client, incident, "dana", "developer")
    clock.advance(minutes=3)  # 09:06
    sam = await join(client, incident, "sam", "observer")
    clock.advance(minutes=1)  # 09:07: SRE engaged, by a role change
    await client.patch(f"{url}/participants/{sam['id']}", json={"role": "sre"})
    clock.advance(minutes=1)  # 09:08
    await client.patch(url, json={"commander": "dana", "status": "investigating"})
    clock.advance(minutes=1)  # 09:09
    await client.patch(
        f"{url}/checklist/rollback_decided",
        json={"done": True, "note": "yes: v2.4.0 suspect", "by": "sam"},
    )
    clock.advance(minutes=1)  # 09:10
    lee = await join(client, incident, "lee", "sre")
    clock.advance(minutes=2)  # 09:12
    await client.post(
        f"{url}/timeline",
        json={"kind": "action", "summary": "Rolled back checkout to v2.3.9", "author": "dana"},
    )
    await client.patch(url, json={"caused_by_deploy_id": suspect})
    clock.advance(minutes=53)  # 10:05
    await move(client, incident, "mitigated")
    clock.advance(minutes=25)  # 10:30
    await client.delete(f"{url}/participants/{lee['id']}")
    clock.advance(minutes=30)  # 11:00
    await move(client, incident, "resolved")
    clock.advance(minutes=5)  # 11:05
    await add_item(
        client,
        incident,
        title="Canary deploys for checkout",
        kind="prevent",
        owner="dana",
        due="2026-03-20",
        rollout=[{"service": "checkout", "status": "done"}, {"service": "payments"}],
    )
    clock.advance(minutes=5)  # 11:10
    return incident | {"suspect": suspect}


async def test_the_postmortem_of_a_scripted_incident_has_every_section(client, clock):
    incident = await scripted_incident(client, clock)
    response = await client.get(f"/api/v1/incidents/{incident['reference']}/postmortem")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["vary"] == "Accept"
    doc = response.json()

    assert {k: doc[k] for k in ("reference", "title", "severity", "status", "services")} == {
        "reference": "INC-1",
        "title": "Checkout 502s",
        "severity": "sev2",
        "status": "resolved",
        "services": ["checkout", "payments"],
    }
    assert doc["summary"] == "Error rate jumped after the deploy.\nRollback helped."
    assert doc["commander"] == "dana"
    assert doc["generated_at"] == "2026-03-02T11:10:00Z"
    assert doc["impact"] == {
        "started_at": "2026-03-02T09:00:00Z",
        "ended_at": "2026-03-02T10:05:00Z",
        "ended_by": "mitigated",
        "duration": {"seconds": 3900.0, "text": "1 h 5 min"},
    }
    assert doc["durations"] == {
        "time_to_acknowledge": {"seconds": 120.0, "text": "2 min"},
        "time_to_sre_engagement": {"seconds": 420.0, "text": "7 min"},
        "time_to_mitigate": {"seconds": 3900.0, "text": "1 h 5 min"},
        "time_to_resolve": {"seconds": 7200.0, "text": "2 h"},
    }
    assert [
        (p["handle"], p["roles"], p["joined_at"][11:16], (p["left_at"] or "")[11:16])
        for p in doc["participants"]
    ] == [
        ("dana", ["developer", "commander"], "09:03", ""),
        ("sam", ["observer", "sre"], "09:06", ""),
        ("lee", ["sre"], "09:10", "10:30"),
    ]
    kinds = [e["kind"] for e in doc["timeline"]]
    assert kinds == [
        "incident_created",
        "status_changed",  # 09:02 acknowledged
        "participant_joined",  # dana
        "participant_joined",  # sam, observer
        "role_changed",  # sam → sre
        "checklist",  # SRE joined
        "status_changed",  # 09:08 investigating
        "role_changed",  # dana → commander
        "checklist",  # commander assigned
        "checklist",  # rollback decided
        "participant_joined",  # lee
        "action",
        "deploy_linked",
        "status_changed",  # mitigated
        "participant_left",
        "status_changed",  # resolved
        "action_item",
    ]
    assert [
        (d["service"], d["version"], d["minutes_before_impact"], d["failed"])
        for d in doc["suspect_deploys"]
    ] == [
        ("checkout", "v2.4.1", 5.0, False),
        ("checkout", "v2.4.0", 30.0, False),
        ("payments", "v7", 770.0, True),
    ]
    assert doc["cause"]["id"] == incident["suspect"]
    assert doc["cause"]["version"] == "v2.4.0"
    assert doc["rollback_reviews"] == []
    checklist = {
        c["key"]: (c["done"], c["done_by"], c["done_at"], c["note"]) for c in doc["checklist"]
    }
    assert checklist["rollback_decided"] == (
        True,
        "sam",
        "2026-03-02T09:09:00Z",
        "yes: v2.4.0 suspect",
    )
    assert checklist["sre_joined"] == (True, "muster", "2026-03-02T09:07:00Z", "sam joined")
    assert checklist["commander_assigned"][:3] == (True, "muster", "2026-03-02T09:08:00Z")
    assert checklist["stakeholders_notified"] == (False, None, None, None)
    (item,) = doc["action_items"]
    assert (item["title"], item["owner"]) == ("Canary deploys for checkout", "dana")
    assert {r["service"]: r["status"] for r in item["rollout"]} == {
        "checkout": "done",
        "payments": "pending",
    }

    text = await client.get(f"/api/v1/incidents/{incident['id']}/postmortem", headers=MARKDOWN)
    assert text.headers["content-type"] == "text/markdown; charset=utf-8"
    assert text.headers["vary"] == "Accept"
    md = read(text.text)
    assert md.headings == [(1, "INC-1: Checkout 502s"), *((2, s) for s in SECTIONS)]
    assert md.tables["INC-1: Checkout 502s"][1:] == [
        ["Reference", "INC-1"],
        ["Severity", "sev2"],
        ["Status", "resolved"],
        ["Services", "checkout, payments"],
        ["Commander", "dana"],
    ]
    assert "Error rate jumped after the deploy.\nRollback helped." in text.text
    for line in (
        "- **Impact window:** 2026-03-02 09:00:00 UTC → 2026-03-02 10:05:00 UTC "
        "(1 h 5 min, until mitigated)",
        "- **Time to acknowledge:** 2 min",
        "- **Time to SRE engagement:** 7 min",
        "- **Time to mitigate:** 1 h 5 min",
        "- **Time to resolve:** 2 h",
        "**Cause:** deploy of checkout v2.4.0 to production (succeeded, 2026-03-02 08:30:00 UTC).",
        "None recorded.",
    ):
        assert line in text.text.splitlines(), line
    assert md.rows("Participants") == [
        ["dana", "—", "—", "developer → commander", "2026-03-02 09:03:00", "—"],
        ["sam", "—", "—", "observer → sre", "2026-03-02 09:06:00", "—"],
        ["lee", "—", "—", "sre", "2026-03-02 09:10:00", "2026-03-02 10:30:00"],
    ]
    timeline = md.rows("Timeline")
    assert [row[1] for row in timeline] == kinds
    assert timeline[0] == [
        "2026-03-02 09:00:00",
        "incident_created",
        "service:bootstrap-admin",
        "INC-1 opened: Checkout 502s (sev2)",
    ]
    assert ["2026-03-02 09:12:00", "action", "dana", "Rolled back checkout to v2.3.9"] in timeline
    assert [row[:3] + row[5:] for row in md.rows("Suspect deploys")] == [
        ["checkout", "production", "v2.4.1", "5 min"],
        ["checkout", "production", "v2.4.0", "30 min"],
        ["payments", "production", "v7", "770 min"],
    ]
    assert md.rows("Suspect deploys")[2][3] == "failed ⚠"
    assert [
        "Rollback decided (yes / no, and why)",
        "yes",
        "sam",
        "2026-03-02 09:09:00",
        "yes: v2.4.0 suspect",
    ] in md.rows("Checklist")
    assert md.rows("Action items") == [
        [
            "Canary deploys for checkout",
            "prevent",
            "dana",
            "2026-03-20",
            "open",
            "checkout: done; payments: pending",
            "—",  # addresses no contributing factor
            "—",  # no tracker issue
        ]
    ]


HOSTILE = "# | <script> [x](y) `"


async def test_user_text_cannot_break_the_markdown(client, clock):
    incident = await make_incident(
        client,
        title=HOSTILE,
        summary="# not a heading\n<img src=x onerror=alert(1)>\n    not code\n- not a list\n1. no",
        services=["check|out", "<b>pay</b>"],
    )
    url = f"/api/v1/incidents/{incident['id']}"
    await join(client, incident, "<i>m|al</i>", "sre")
    await client.post(
        f"{url}/timeline",
        json={"kind": "note", "summary": "a | b\nnew row? | x |", "author": "[me](http://x)"},
    )
    await client.patch(
        f"{url}/checklist/rollback_decided",
        json={"done": True, "note": "no |\n| forged | row |", "by": "`ops`"},
    )
    await add_item(
        client,
        incident,
        title="![img](http://evil/x.png) **bold** ~~gone~~",
        owner="_x_",
        rollout=[{"service": "a|b"}],
    )
    clock.advance(minutes=1)
    response = await client.get(f"{url}/postmortem", headers=MARKDOWN)
    assert response.status_code == 200
    md = read(response.text)

    assert md.headings == [(1, f"INC-1: {HOSTILE}"), *((2, s) for s in SECTIONS)]
    for dangerous in (
        "<script",
        "<img",
        "<a ",
        "<b>",
        "<i>",
        "<code>",
        "<del>",
        "<ol",
        "<pre",
        "<strong>bold",
        "<em>x</em>",
    ):
        assert dangerous not in md.html, dangerous
    assert {
        "html_block",
        "html_inline",
        "link_open",
        "image",
        "code_inline",
        "code_block",
        "s_open",
        "ordered_list_open",
    }.isdisjoint(md.token_types)
    assert md.tables[f"INC-1: {HOSTILE}"][4] == ["Services", "check|out, <b>pay</b>"]
    assert all(len(row) == 4 for row in md.tables["Timeline"])
    assert ["note", "[me](http://x)", "a | b new row? | x |"] in [
        row[1:] for row in md.rows("Timeline")
    ]
    assert md.rows("Participants")[0][0] == "<i>m|al</i>"
    assert all(len(row) == 5 for row in md.tables["Checklist"])
    assert ["yes", "`ops`", "2026-03-02 09:00:00", "no | | forged | row |"] in [
        row[1:] for row in md.rows("Checklist")
    ]
    assert md.rows("Action items") == [
        [
            "![img](http://evil/x.png) **bold** ~~gone~~",
            "detect",
            "_x_",
            "—",
            "open",
            "a|b: pending",
            "—",
            "—",
        ]
    ]
    summary = md.html.split("<h2>Summary</h2>")[1].split("<h2>")[0]
    assert "# not a heading" in summary
    assert "&lt;img src=x onerror=alert(1)&gt;" in summary
    assert "- not a list" in summary
    assert "1. no" in summary

    json_doc = (await client.get(f"{url}/postmortem")).json()
    assert json_doc["title"] == HOSTILE, "JSON carries the text as it is"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/markdown", "text/markdown"),
        ("text/*", "text/markdown"),
        ("text/markdown, */*", "text/markdown"),
        ("text/markdown;q=0.5, application/json", "application/json"),
        ("application/json;q=0.2, text/markdown;q=0.9", "text/markdown"),
        ("text/markdown, application/json", "application/json"),
        ("text/markdown;q=0, */*", "application/json"),
        ("application/*;q=0.1, text/plain, text/markdown;charset=utf-8", "text/markdown"),
    ],
)
async def test_accept_chooses_json_or_markdown(client, accept, expected):
    incident = await make_incident(client)
    headers = {"Accept": accept} if accept else {}
    response = await client.get(f"/api/v1/incidents/{incident['id']}/postmortem", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == expected


@pytest.mark.parametrize("accept", ["image/png", "text/markdown;q=0", "application/xml, text/html"])
async def test_unacceptable_media_types_are_406(client, accept):
    incident = await make_incident(client)
    response = await client.get(
        f"/api/v1/incidents/{incident['id']}/postmortem", headers={"Accept": accept}
    )
    body = assert_problem(response, 406)
    assert "text/markdown" in body["detail"]


async def test_postmortem_needs_a_known_incident_and_a_key(client, anon_client):
    assert_problem(await client.get("/api/v1/incidents/INC-77/postmortem"), 404)
    incident = await make_incident(client)
    assert_problem(await anon_client.get(f"/api/v1/incidents/{incident['id']}/postmortem"), 401)


async def test_an_open_incident_has_an_ongoing_window_and_no_durations_yet(client, clock):
    incident = await make_incident(client, services=[])
    clock.advance(minutes=90)
    doc = (await client.get(f"/api/v1/incidents/{incident['id']}/postmortem")).json()
    assert doc["impact"] == {
        "started_at": "2026-03-02T09:00:00Z",
        "ended_at": None,
        "ended_by": None,
        "duration": None,
    }
    assert set(doc["durations"].values()) == {None}
    assert (doc["participants"], doc["suspect_deploys"], doc["cause"], doc["action_items"]) == (
        [],
        [],
        None,
        [],
    )
    text = await client.get(f"/api/v1/incidents/{incident['id']}/postmortem", headers=MARKDOWN)
    assert "- **Impact window:** 2026-03-02 09:00:00 UTC → ongoing" in text.text
    assert "- **Time to resolve:** not reached" in text.text
    assert "No one joined." in text.text


async def test_rollback_reviews_appear_in_the_postmortem(client):
    incident = await make_incident(client, services=["checkout"])
    approved = await propose(client, incident)
    assert (await decide(client, approved)).status_code == 200
    await propose(client, incident, to_version="2.3.8", requested_by="carol")

    doc = (await client.get(f"/api/v1/incidents/{incident['id']}/postmortem")).json()
    assert [
        (
            r["service"],
            r["from_version"],
            r["to_version"],
            r["status"],
            r["requested_by"],
            r["reviewer"],
        )
        for r in doc["rollback_reviews"]
    ] == [
        ("checkout", "2.4.0", "2.3.9", "approved", "alice", "bob"),
        ("checkout", "2.4.0", "2.3.8", "proposed", "carol", None),
    ]
    text = await client.get(f"/api/v1/incidents/{incident['id']}/postmortem", headers=MARKDOWN)
    assert read(text.text).rows("Rollback reviews") == [
        ["checkout", "2.4.0", "2.3.9", "approved", "alice", "bob"],
        ["checkout", "2.4.0", "2.3.8", "proposed", "carol", "—"],
    ]
