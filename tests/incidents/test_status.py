import pytest

from app.incidents.state import Status, allowed_moves
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, move, timeline


async def test_each_move_stamps_its_time_once_and_is_on_the_timeline(client):
    incident = await make_incident(client)
    path = ["acknowledged", "investigating", "mitigated", "investigating", "resolved", "closed"]
    stamps = {}
    for status in path:
        response = await move(client, incident, status)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == status
        field = f"{status}_at"
        stamps.setdefault(field, body[field])
        assert body[field] == stamps[field], f"{field} was re-stamped"
    assert body["mitigated_at"] is not None
    moves = [
        (e["data"]["from"], e["data"]["to"])
        for e in await timeline(client, incident, kind="status_changed")
    ]
    assert moves == list(zip(["triggered", *path[:-1]], path, strict=True))


async def test_forward_skips_are_allowed(client):
    incident = await make_incident(client)
    response = await move(client, incident, "resolved")
    assert response.json()["resolved_at"] is not None
    assert response.json()["acknowledged_at"] is None


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        (["acknowledged"], "triggered"),
        (["investigating"], "acknowledged"),
        (["resolved"], "mitigated"),
        (["closed"], "investigating"),
        (["acknowledged"], "acknowledged"),
    ],
)
async def test_illegal_moves_are_409_naming_the_allowed_ones(client, path, illegal):
    incident = await make_incident(client)
    for status in path:
        assert (await move(client, incident, status)).status_code == 200
    current = path[-1]
    problem = assert_problem(await move(client, incident, illegal), 409)
    assert problem["type"] == "urn:muster:problem:invalid-transition"
    assert problem["current"] == current
    assert problem["allowed"] == allowed_moves(Status(current))
    for allowed in problem["allowed"]:
        assert allowed in problem["detail"]
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["status"] == current


async def test_closed_is_final(client):
    incident = await make_incident(client)
    await move(client, incident, "closed")
    problem = assert_problem(await move(client, incident, "investigating"), 409)
    assert problem["allowed"] == []
    assert "final" in problem["detail"]


async def test_a_rejected_patch_changes_no_other_field(client):
    incident = await make_incident(client)
    await move(client, incident, "closed")
    response = await client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"title": "Renamed", "status": "triggered"}
    )
    assert response.status_code == 409
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["title"] == incident[
        "title"
    ]
