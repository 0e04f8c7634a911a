"""The summary is aggregated by the database over a bounded window, with the same figures."""

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from app.core.aggregates import nearest_rank
from app.incidents.models import Incident
from app.reports import measures
from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident, move

URL = "/api/v1/reports/summary"


async def test_a_window_over_400_days_is_refused_naming_the_limit(client):
    for params in (
        {"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"},
        {"from": "2025-01-01T00:00:00Z", "to": "2026-02-05T00:00:01Z"},
    ):
        problem = assert_problem(await client.get(URL, params=params), 422)
        assert "400 days" in problem["detail"]
        assert problem["errors"][0]["field"] == "query.from"
    fits = {"from": "2025-01-01T00:00:00Z", "to": "2026-02-05T00:00:00Z"}  # 400 days
    assert (await client.get(URL, params=fits)).status_code == 200


async def test_figures_match_the_definitions_without_loading_incidents(client, clock, app):
    rng = random.Random(21)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for n in range(23):
        clock.set(start + timedelta(hours=n, microseconds=rng.randrange(10**6)))
        incident = await make_incident(client, title=f"I{n}", services=["checkout"])
        for status in ("acknowledged", "mitigated", "resolved")[: n % 4]:
            clock.advance(seconds=rng.randrange(1, 4000), microseconds=rng.randrange(10**6))
            await move(client, incident, status)
        if n % 3:
            clock.advance(seconds=rng.randrange(1, 1200))
            await join(client, incident, f"sre{n}", "sre")

    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        window = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-05T00:00:00Z"}
        report = (await client.get(URL, params=window)).json()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "incidents.title" in s], "no incident is loaded"

    listed = (await client.get("/api/v1/incidents", params={"limit": 200})).json()["items"]
    incidents = [Incident(**_times(item)) for item in listed]
    assert len(incidents) == 23

    def expected(ends: list[datetime | None]) -> dict[str, float | int | None]:
        values = [
            measures.seconds(i.started_at, end)
            for i, end in zip(incidents, ends, strict=True)
            if end is not None
        ]
        return {
            "count": len(values),
            "median_seconds": nearest_rank(values, 50),
            "p90_seconds": nearest_rank(values, 90),
        }

    assert report["time_to_acknowledge"] == expected(
        [measures.acknowledged_at(i) for i in incidents]
    )
    assert report["time_to_mitigate"] == expected([measures.mitigated_at(i) for i in incidents])
    assert report["time_to_resolve"] == expected([i.resolved_at for i in incidents])
    assert report["time_to_resolve"]["count"] == 5
    assert report["time_to_sre_engagement"]["count"] == 15


def _times(item: dict) -> dict:
    fields = ("started_at", "acknowledged_at", "investigating_at", "mitigated_at", "resolved_at")
    return {"id": item["id"], "title": item["title"], "severity": item["severity"]} | {
        name: datetime.fromisoformat(item[name]) if item.get(name) else None for name in fields
    }
