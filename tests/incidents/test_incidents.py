import pytest

from tests.core.test_errors import assert_problem
from tests.factories import count_rows, make_incident, outbox_types, read_incident, timeline


async def test_create_returns_the_incident_with_reference_location_and_etag(client, database):
    response = await client.post(
        "/api/v1/incidents",
        json={
            "title": "  Checkout 502s  ",
            "summary": "30% of requests fail",
            "severity": "sev1",
            "services": ["checkout", "payments", "checkout"],
            "labels": {"region": "eu-west-1"},
            "started_at": "2026-11-28T10:00:00+01:00",
        },
    )
    assert response.status_code == 201
    incident = response.json()
    assert incident["title"] == "Checkout 502s"
    assert incident["reference"] == f"INC-{incident['number']}"
    assert incident["status"] == "triggered"
    assert incident["services"] == ["checkout", "payments"]
    assert incident["started_at"] == "2026-11-28T09:00:00Z"
    assert incident["allowed_transitions"] == [
        "acknowledged",
        "investigating",
        "mitigated",
        "resolved",
        "closed",
        "declined",
    ]
    assert response.headers["location"] == f"/api/v1/incidents/{incident['reference']}"
    assert (await client.get(response.headers["location"])).json()["id"] == incident["id"]
    assert await read_incident(client, incident) == incident
    assert response.headers["etag"]
    assert await outbox_types(database) == ["timeline.event_added", "incident.created"]
    entries = await timeline(client, incident)
    assert [e["kind"] for e in entries] == ["incident_created"]


async def test_defaults_and_numbers_increase(client):
    first = await make_incident(client, severity=None) if False else await make_incident(client)
    second = (await client.post("/api/v1/incidents", json={"title": "Only a title"})).json()
    assert second["number"] == first["number"] + 1
    assert second["severity"] == "sev3"
    assert second["services"] == []
    assert second["labels"] == {}


async def test_lookup_by_uuid_reference_and_number(client):
    incident = await make_incident(client)
    for ident in (
        incident["id"],
        incident["reference"],
        incident["reference"].lower(),
        str(incident["number"]),
    ):
        response = await client.get(f"/api/v1/incidents/{ident}")
        assert response.status_code == 200, ident
        assert response.json()["id"] == incident["id"]
    for missing in ("INC-999999", "9f1c5d0e-0000-4000-8000-000000000000", "nonsense"):
        assert_problem(await client.get(f"/api/v1/incidents/{missing}"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.title"),
        ({"title": ""}, "body.title"),
        ({"title": "   "}, "body.title"),
        ({"title": "x" * 301}, "body.title"),
        ({"title": "t", "severity": "sev0"}, "body.severity"),
        ({"title": "t", "labels": {"a": 1}}, "body.labels.a"),
        ({"title": "t", "labels": ["a"]}, "body.labels"),
        ({"title": "t", "services": "checkout"}, "body.services"),
        ({"title": "t", "started_at": "2026-11-28T10:00:00"}, "body.started_at"),
        ({"title": "t", "started_at": "2999-01-01T00:00:00Z"}, "body.started_at"),
        ({"title": "t", "status": "resolved"}, "body.status"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    client, database, body, field
):
    before = await count_rows(database, "incidents")
    problem = assert_problem(await client.post("/api/v1/incidents", json=body), 422)
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await count_rows(database, "incidents") == before
    assert await count_rows(database, "outbox_events") == 0


async def test_patch_changes_fields_and_records_them(client, database):
    incident = await make_incident(client, severity="sev3")
    response = await client.patch(
        f"/api/v1/incidents/{incident['reference']}",
        json={"title": "Checkout down", "severity": "sev1", "labels": {"team": "payments"}},
    )
    assert response.status_code == 200
    changed = response.json()
    assert (changed["title"], changed["severity"], changed["labels"]) == (
        "Checkout down",
        "sev1",
        {"team": "payments"},
    )
    kinds = [e["kind"] for e in await timeline(client, incident)]
    assert kinds == ["incident_created", "incident_updated", "severity_changed"]
    assert (await outbox_types(database)).count("incident.updated") == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"colour": "red"}, 422, "body.colour"),
        ({"severity": "urgent"}, 422, "body.severity"),
        ({"status": "done"}, 422, "body.status"),
        ({"title": None}, 422, "body.title"),
        ({"labels": {"k": ["v"]}}, 422, "body.labels.k"),
        ({"commander": "two words"}, 422, "body.commander"),
    ],
)
async def test_bad_patch_is_a_problem_and_changes_nothing(client, body, status, field):
    incident = await make_incident(client)
    problem = assert_problem(
        await client.patch(f"/api/v1/incidents/{incident['id']}", json=body), status
    )
    assert field in [e["field"] for e in problem["errors"]]
    after = await read_incident(client, incident)
    assert after == incident


async def test_if_match_guards_against_lost_updates(client):
    incident = await make_incident(client)
    read = await client.get(f"/api/v1/incidents/{incident['id']}")
    tag = read.headers["etag"]

    first = await client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"title": "A"}, headers={"If-Match": tag}
    )
    assert first.status_code == 200
    assert first.headers["etag"] != tag

    stale = await client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"title": "B"}, headers={"If-Match": tag}
    )
    problem = assert_problem(stale, 412)
    assert problem["current_etag"] == first.headers["etag"]
    assert (await read_incident(client, incident))["title"] == "A"

    bad = await client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"title": "C"}, headers={"If-Match": "abc"}
    )
    assert assert_problem(bad, 400)["errors"][0]["field"] == "header.If-Match"
    star = await client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"title": "D"}, headers={"If-Match": "*"}
    )
    assert star.status_code == 200


async def test_if_none_match_answers_304(client):
    incident = await make_incident(client)
    tag = (await client.get(f"/api/v1/incidents/{incident['id']}")).headers["etag"]
    response = await client.get(
        f"/api/v1/incidents/{incident['id']}", headers={"If-None-Match": tag}
    )
    assert response.status_code == 304


async def test_reads_need_a_key_and_writes_need_the_write_scope(client, anon_client):
    assert_problem(await anon_client.get("/api/v1/incidents"), 401)
    created = await client.post(
        "/api/v1/api-keys", json={"name": "dash", "scopes": ["incidents:read"]}
    )
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await anon_client.get("/api/v1/incidents", headers=headers)).status_code == 200
    assert_problem(
        await anon_client.post("/api/v1/incidents", json={"title": "x"}, headers=headers), 403
    )


async def test_anonymous_callers_learn_nothing_about_existence(anon_client):
    for path in ("/api/v1/incidents/INC-999999", "/api/v1/incidents/INC-999999/timeline"):
        assert_problem(await anon_client.get(path), 401)
    assert_problem(
        await anon_client.patch("/api/v1/incidents/INC-999999", json={"title": "x"}), 401
    )


@pytest.mark.parametrize("started_at", [1700000000, 0.5, "1700000000", True])
async def test_a_number_is_not_a_timestamp(client, started_at):
    response = await client.post("/api/v1/incidents", json={"title": "x", "started_at": started_at})
    assert_problem(response, 422)


async def test_a_numeric_query_timestamp_is_refused(client):
    assert_problem(await client.get("/api/v1/incidents", params={"created_before": "0.5"}), 422)


async def test_a_timestamp_out_of_range_in_utc_is_422_not_500(client):
    body = {"title": "x", "started_at": "0001-01-01T00:00:00+01:00"}
    problem = assert_problem(await client.post("/api/v1/incidents", json=body), 422)
    assert problem["errors"][0]["field"] == "body.started_at"
