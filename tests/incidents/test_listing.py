import json

import pytest

from app.incidents import service as incident_service
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, move, read_incident


async def _ids(client, **params):
    response = await client.get("/api/v1/incidents", params=params)
    assert response.status_code == 200, response.text
    return [item["reference"] for item in response.json()["items"]]


async def test_filters(client):
    a = await make_incident(
        client, title="Checkout latency", severity="sev1", services=["checkout"]
    )
    b = await make_incident(
        client,
        title="Search down",
        summary="50% of 5xx",
        severity="sev2",
        services=["search", "web"],
    )
    c = await make_incident(client, title="Disk full", severity="sev3", services=["db"])
    await move(client, b, "acknowledged")
    await move(client, c, "resolved")

    assert await _ids(client) == [c["reference"], b["reference"], a["reference"]]
    assert await _ids(client, status="acknowledged") == [b["reference"]]
    assert await _ids(client, status=["acknowledged", "triggered"]) == [
        b["reference"],
        a["reference"],
    ]
    assert await _ids(client, severity="sev1") == [a["reference"]]
    assert await _ids(client, service="web") == [b["reference"]]
    assert await _ids(client, service="we") == []
    assert await _ids(client, q="LATENCY") == [a["reference"]]
    assert await _ids(client, q="50%") == [b["reference"]]
    assert await _ids(client, q="%") == [b["reference"]]
    assert await _ids(client, open="true") == [b["reference"], a["reference"]]
    assert await _ids(client, open="false") == [c["reference"]]
    assert await _ids(client, created_after=b["created_at"]) == [c["reference"], b["reference"]]
    assert await _ids(client, created_before=b["created_at"]) == [a["reference"]]


async def test_bad_filters_are_problems(client):
    for params in (
        {"status": "done"},
        {"severity": "high"},
        {"created_after": "yesterday"},
        {"open": "maybe"},
    ):
        response = await client.get("/api/v1/incidents", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"


async def test_pagination_walks_all_incidents(client):
    made = [await make_incident(client, title=f"i{n}") for n in range(7)]
    seen, cursor = [], None
    while True:
        page = (
            await client.get(
                "/api/v1/incidents", params={"limit": 3} | ({"cursor": cursor} if cursor else {})
            )
        ).json()
        seen += [i["id"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [i["id"] for i in reversed(made)]


async def test_combined_filters_page_with_their_values(client):
    """Each combination of filters has its statements built once: the values of one
    request must not leak into the next, and pages after a cursor keep every filter."""
    made = [
        await make_incident(client, title=f"Disk {n}", severity=s, services=[svc])
        for n, (s, svc) in enumerate(
            [("sev1", "db"), ("sev2", "db"), ("sev1", "web"), ("sev1", "db"), ("sev1", "db")]
        )
    ]
    wanted = {"severity": "sev1", "service": "db", "q": "disk", "open": "true"}
    seen, cursor = [], None
    while True:
        params = wanted | {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/incidents", params=params)).json()
        seen += [item["reference"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [made[4]["reference"], made[3]["reference"], made[0]["reference"]]
    assert await _ids(client, severity="sev2", service="db", q="disk", open="true") == [
        made[1]["reference"]
    ]
    assert await _ids(client, severity="sev1", service="web", q="Disk 2", open="true") == [
        made[2]["reference"]
    ]


async def test_list_items_are_exactly_what_a_read_returns(client):
    made = await make_incident(
        client, labels={"a": "b"}, summary="s", started_at="2026-11-28T10:00:00.5+01:00"
    )
    await move(client, made, "mitigated")
    read = await read_incident(client, made)
    (listed,) = (await client.get("/api/v1/incidents")).json()["items"]
    assert listed == read
    assert list(listed) == list(read)  # same field order too


async def test_a_text_search_is_found_by_its_matches_not_by_walking_every_incident(
    client, database
):
    """PostgreSQL pages a text search from its trigram matches, sorted: walking the
    creation-order index from the newest incident reads most of the table when the
    term is only found among older ones. Sorting is made as costly as the planner
    allows, so that the walk would be chosen were it possible. SQLite has no trigram
    index: there the walk is the plan."""
    await make_incident(client, title="Disk full")
    async with database.engine.connect() as connection:
        dialect = connection.dialect.name
        statement = incident_service._pages(dialect, frozenset({"pattern"})).first
        sql = statement.params(pattern="%disk%", page_size=51).compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        if dialect == "postgresql":
            await connection.exec_driver_sql("SET LOCAL enable_sort = off")
            plan = (await connection.exec_driver_sql(f"EXPLAIN {sql}")).scalars().all()
            assert not any("ix_incidents_created_at_id" in line for line in plan), plan
            assert any("Sort" in line for line in plan), plan
        else:
            plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all()
            assert any("ix_incidents_created_at_id" in str(row) for row in plan), plan
    assert await _ids(client, q="DISK") != []


async def test_label_filters_match_every_label_given(client):
    a = await make_incident(client, labels={"team": "payments", "region": "eu"})
    b = await make_incident(client, labels={"team": "payments", "region": "us"})
    c = await make_incident(client, labels={"team": "search", "url": "http://x:8080/"})
    await make_incident(client, labels={})
    a, b, c = a["reference"], b["reference"], c["reference"]

    assert await _ids(client, label="team:payments") == [b, a]
    assert await _ids(client, label=["team:payments", "region:eu"]) == [a]
    assert await _ids(client, label="region:") == [b, a]
    assert await _ids(client, label=["team:", "region:us"]) == [b]
    assert await _ids(client, label="url:http://x:8080/") == [c]  # split at the first colon
    assert await _ids(client, label="team:pay") == []
    assert await _ids(client, label="owner:") == []
    assert await _ids(client, label=["team:payments", "team:search"]) == []
    assert await _ids(client, label="team:payments", status="triggered", limit=1) == [b]
    page = (
        await client.get("/api/v1/incidents", params={"label": "team:payments", "limit": 1})
    ).json()
    rest = (
        await client.get(
            "/api/v1/incidents",
            params={"label": "team:payments", "limit": 1, "cursor": page["next_cursor"]},
        )
    ).json()
    assert [i["reference"] for i in rest["items"]] == [a]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    "label",
    [
        "team",
        ":payments",
        ":",
        "k" * 101 + ":v",
        "team:" + "v" * 501,
        ["team:a"] * 21,
    ],
    ids=["no-colon", "no-key", "colon-only", "long-key", "long-value", "too-many"],
)
async def test_a_malformed_label_filter_is_a_problem_naming_it(client, label):
    problem = assert_problem(await client.get("/api/v1/incidents", params={"label": label}), 422)
    assert [error["field"] for error in problem["errors"]] == ["query.label"]


async def test_label_filters_are_served_by_the_labels_index(client, database):
    """PostgreSQL: `@>` (key:value) and `?&` (key:) are what the GIN index on `labels`
    serves. With sequential and plain index scans made as costly as the planner allows,
    the plan must still find the rows from that index, not by a filter on every row."""
    await make_incident(client, labels={"team": "payments"})
    async with database.engine.connect() as connection:
        dialect = connection.dialect.name
        for shape, binds in (
            ("label_pairs", {"label_pairs": {"team": "payments"}}),
            ("label_keys", {"label_keys": ["team"]}),
        ):
            statement = incident_service._pages(dialect, frozenset({shape})).first
            found = (await connection.execute(statement, binds | {"page_size": 51})).all()
            assert len(found) == 1, shape
            if dialect != "postgresql":
                continue  # SQLite has no index on JSON content: json_each it is
            # Bound, not literal: JSONB has no literal form. asyncpg takes JSONB as text.
            compiled = statement.compile(dialect=connection.dialect)
            values = compiled.construct_params(binds | {"page_size": 51})
            params = tuple(
                json.dumps(value) if isinstance(value, dict) else value
                for value in (values[name] for name in compiled.positiontup or ())
            )
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            await connection.exec_driver_sql("SET LOCAL enable_indexscan = off")
            explain = await connection.exec_driver_sql(f"EXPLAIN {compiled}", params)
            plan = explain.scalars().all()
            assert any("ix_incidents_labels" in line for line in plan), plan
