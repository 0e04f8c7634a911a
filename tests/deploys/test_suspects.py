"""Suspect deploys: what shipped to the incident's services shortly before its impact."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.core.test_errors import assert_problem
from tests.factories import make_incident

# Impact three hours ago, on a whole minute, so minutes_before_impact are round numbers.
IMPACT = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)


def at(minutes: float) -> str:
    """A time `minutes` after the impact start (negative: before it)."""
    return (IMPACT + timedelta(minutes=minutes)).isoformat()


async def report(client, name: str, **fields: Any) -> dict[str, Any]:
    body = {"service": "checkout", "environment": "production", "status": "succeeded"} | fields
    response = await client.post("/api/v1/deploys", json=body | {"external_id": name})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def suspects(client, incident: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/incidents/{incident['id']}/suspect-deploys", params=params
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def names(client, incident: dict[str, Any], **params: Any) -> list[str]:
    page = await suspects(client, incident, **params)
    assert page["next_cursor"] is None
    return [item["external_id"] for item in page["items"]]


@pytest.fixture
async def history(client) -> dict[str, dict[str, Any]]:
    """Deploys around an impact at IMPACT; the comment says why each is (not) a suspect."""
    deploys = [
        # at the impact start itself: the closest possible
        await report(client, "at-impact", started_at=at(-4), finished_at=at(0)),
        await report(client, "near", started_at=at(-15), finished_at=at(-10)),
        await report(client, "staging", environment="staging", finished_at=at(-20)),
        # still running at impact: counts from its start
        await report(client, "running", started_at=at(-30), finished_at=at(20)),
        await report(
            client, "undone", service="payments", status="rolled_back", finished_at=at(-50)
        ),
        await report(client, "failed", status="failed", started_at=at(-125), finished_at=at(-120)),
        await report(client, "payments", service="payments", finished_at=at(-180)),
        # started before the 24 h window, finished inside it
        await report(client, "long", started_at=at(-26 * 60), finished_at=at(-23 * 60)),
        # not suspects: after the impact start, before the window, another service
        await report(client, "after", started_at=at(5), finished_at=at(10)),
        await report(client, "old", started_at=at(-25 * 60 - 5), finished_at=at(-25 * 60)),
        await report(client, "search", service="search", finished_at=at(-5)),
    ]
    return {deploy["external_id"]: deploy for deploy in deploys}


@pytest.fixture
async def incident(client) -> dict[str, Any]:
    return await make_incident(
        client, services=["checkout", "payments"], started_at=IMPACT.isoformat()
    )


ALL = ["at-impact", "near", "staging", "running", "undone", "failed", "payments", "long"]


@pytest.mark.usefixtures("history")
async def test_closest_to_impact_first_with_minutes_and_flags(client, incident):
    page = await suspects(client, incident)
    assert page["next_cursor"] is None
    items = page["items"]
    assert [i["external_id"] for i in items] == ALL
    assert [i["minutes_before_impact"] for i in items] == [0, 10, 20, 30, 50, 120, 180, 1380]
    flagged = {i["external_id"] for i in items if i["flagged"]}
    assert flagged == {"undone", "failed"}
    assert not any(i["is_cause"] for i in items)
    near = items[1]
    assert (near["service"], near["environment"], near["status"]) == (
        "checkout",
        "production",
        "succeeded",
    )
    assert near["finished_at"] == at(-10).replace("+00:00", "Z")


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("PT6H", ALL[:-1]),
        ("90", ["at-impact", "near", "staging", "running", "undone"]),
        ("PT2H", ["at-impact", "near", "staging", "running", "undone", "failed"]),
        ("pt30m", ["at-impact", "near", "staging", "running"]),
        ("P1D", ALL),
        ("P1DT2H", [*ALL, "old"]),
        ("10", ["at-impact", "near"]),
    ],
)
async def test_the_window_bounds_how_far_back(client, incident, window, expected):
    assert await names(client, incident, window=window) == expected


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"env": "production"}, [n for n in ALL if n != "staging"]),
        ({"environment": "staging", "env": "production"}, ["staging"]),
        ({"environment": "qa"}, []),
        ({"region": "eu-west-1"}, ALL),
    ],
)
async def test_an_environment_label_narrows_to_that_environment(client, labels, expected):
    incident = await make_incident(
        client, services=["checkout", "payments"], labels=labels, started_at=IMPACT.isoformat()
    )
    assert await names(client, incident) == expected


@pytest.mark.usefixtures("history")
async def test_only_the_incidents_services_count(client):
    only_search = await make_incident(client, services=["search"], started_at=IMPACT.isoformat())
    assert await names(client, only_search) == ["search"]
    none = await make_incident(client, services=[], started_at=IMPACT.isoformat())
    assert await names(client, none) == []


async def test_the_named_cause_is_marked(client, history, incident):
    url = f"/api/v1/incidents/{incident['id']}"
    await client.patch(url, json={"caused_by_deploy_id": history["failed"]["id"]})
    items = (await suspects(client, incident))["items"]
    assert [i["external_id"] for i in items if i["is_cause"]] == ["failed"]


@pytest.mark.usefixtures("history")
async def test_pages_walk_the_ranking_once(client, incident):
    seen, cursor = [], None
    while True:
        page = await suspects(client, incident, limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 3
        seen += [item["external_id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == ALL


async def test_equal_times_are_ranked_by_id_and_paged_once(client, incident):
    ids = [(await report(client, f"same{n}", finished_at=at(-5)))["id"] for n in range(5)]
    first = await suspects(client, incident, limit=2)
    rest = await suspects(client, incident, cursor=first["next_cursor"])
    seen = [item["id"] for item in first["items"] + rest["items"]]
    assert seen == sorted(ids, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"window": "abc"},
        {"window": "0"},
        {"window": "-30"},
        {"window": "1.5"},
        {"window": "P31D"},
        {"window": "44641"},  # 31 days in minutes
        {"window": "P1M"},  # months have no fixed length
        {"window": "PT"},
        {"window": "x" * 65},
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"limit": 0},
    ],
)
async def test_bad_query_is_a_problem_naming_it(client, incident, params):
    url = f"/api/v1/incidents/{incident['id']}/suspect-deploys"
    problem = assert_problem(await client.get(url, params=params), 422)
    assert [e["field"] for e in problem["errors"]] == [f"query.{next(iter(params))}"]


async def test_unknown_incident_is_404_and_reading_needs_a_key(client, anon_client, incident):
    assert_problem(await client.get("/api/v1/incidents/INC-999999/suspect-deploys"), 404)
    url = f"/api/v1/incidents/{incident['id']}/suspect-deploys"
    assert_problem(await anon_client.get(url), 401)
