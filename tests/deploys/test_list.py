from typing import Any

import pytest

URL = "/api/v1/deploys"


async def report(client, external_id: str, **fields: Any) -> dict[str, Any]:
    body = {"service": "checkout", "environment": "production", "status": "succeeded"} | fields
    response = await client.post(URL, json=body | {"external_id": external_id})
    assert response.status_code in (200, 201), response.text
    return response.json()


async def listed(client, **params: Any) -> list[str]:
    response = await client.get(URL, params=params)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return [item["external_id"] for item in response.json()["items"]]


@pytest.fixture
async def history(client) -> None:
    """Five deploys; the times are when each finished (or started, `running`)."""
    await report(client, "old", finished_at="2026-11-27T08:00:00Z")
    await report(
        client,
        "long",  # started first, finished last of all
        started_at="2026-11-27T07:00:00Z",
        finished_at="2026-11-28T12:00:00Z",
        status="failed",
    )
    await report(client, "staging", environment="staging", finished_at="2026-11-28T09:00:00Z")
    await report(client, "search", service="search", finished_at="2026-11-28T10:00:00Z")
    await report(client, "running", status="started", started_at="2026-11-28T11:00:00Z")


@pytest.mark.usefixtures("history")
async def test_newest_first_by_finish_or_start_time(client):
    assert await listed(client) == ["long", "running", "search", "staging", "old"]


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"service": "checkout"}, ["long", "running", "staging", "old"]),
        ({"service": "checkout", "environment": "production"}, ["long", "running", "old"]),
        ({"environment": "staging"}, ["staging"]),
        ({"status": "failed"}, ["long"]),
        ({"status": ["failed", "started"]}, ["long", "running"]),
        ({"service": "nothing"}, []),
        # since is inclusive, until exclusive; "long" started before but finished after
        (
            {"since": "2026-11-28T09:00:00Z", "until": "2026-11-28T12:00:00Z"},
            ["running", "search", "staging"],
        ),
        ({"until": "2026-11-28T09:00:00+00:00"}, ["old"]),
        ({"since": "2026-11-28T12:00:00+01:00"}, ["long", "running"]),
        (
            {"since": "2026-11-28T00:00:00Z", "service": "checkout", "status": "succeeded"},
            ["staging"],
        ),
    ],
)
async def test_filters(client, params, expected):
    assert await listed(client, **params) == expected


@pytest.mark.usefixtures("history")
async def test_finishing_a_running_deploy_moves_it_in_the_list(client):
    await report(client, "running", finished_at="2026-11-28T13:00:00Z")
    assert await listed(client) == ["running", "long", "search", "staging", "old"]
    assert await listed(client, until="2026-11-28T12:30:00Z") == [
        "long",
        "search",
        "staging",
        "old",
    ]


async def test_pages_walk_every_deploy_once_even_with_equal_times(client):
    same_time = "2026-11-28T10:00:00Z"
    ids = [(await report(client, f"d{n}", finished_at=same_time))["id"] for n in range(4)]
    ids += [(await report(client, "later", finished_at="2026-11-28T11:00:00Z"))["id"]]
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(URL, params=params)).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[0] == ids[-1]
    assert sorted(seen[1:], reverse=True) == seen[1:]  # ties broken by id, descending
    assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-11-28T10:00:00"},
        {"until": "yesterday"},
        {"status": "done"},
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"limit": 201},
    ],
)
async def test_bad_query_is_a_problem(client, params):
    response = await client.get(URL, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"].startswith("query.")
