"""Suspect deploys through dependencies: `via`, depth, cycles, rank at equal distance."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.catalog.helpers import create
from tests.core.test_errors import assert_problem
from tests.factories import make_incident

IMPACT = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)


def before(minutes: float) -> str:
    return (IMPACT - timedelta(minutes=minutes)).isoformat()


async def deploy(client, service: str, minutes_before: float, name: str | None = None) -> None:
    body = {
        "service": service,
        "environment": "production",
        "status": "succeeded",
        "external_id": name or f"{service}-{minutes_before}",
        "started_at": before(minutes_before + 3),
        "finished_at": before(minutes_before),
    }
    response = await client.post("/api/v1/deploys", json=body)
    assert response.status_code == 201, response.text


async def suspects(client, incident: dict[str, Any], **params: Any) -> list[tuple[str, list]]:
    response = await client.get(
        f"/api/v1/incidents/{incident['id']}/suspect-deploys", params={"limit": 100} | params
    )
    assert response.status_code == 200, response.text
    return [(item["external_id"], item["via"]) for item in response.json()["items"]]


@pytest.fixture
async def chain(client) -> dict[str, Any]:
    """checkout → payments → ledger → vault → checkout (a cycle), and search on its own."""
    await create(client, "checkout", depends_on=["payments"])
    await create(client, "payments", depends_on=["ledger", "checkout"])
    await create(client, "ledger", depends_on=["vault"])
    await create(client, "vault", depends_on=["checkout"])
    for service, minutes in [
        ("checkout", 30),
        ("payments", 10),
        ("ledger", 20),
        ("vault", 5),
        ("search", 1),
    ]:
        await deploy(client, service, minutes)
    return await make_incident(client, services=["checkout"], started_at=IMPACT.isoformat())


async def test_dependencies_two_steps_away_are_suspects_with_their_path(client, chain):
    assert await suspects(client, chain) == [
        ("payments-10", ["checkout", "payments"]),
        ("ledger-20", ["checkout", "payments", "ledger"]),
        ("checkout-30", ["checkout"]),
    ]


async def test_the_depth_setting_bounds_how_far_and_cycles_end(client, chain, app):
    original = app.state.settings
    try:
        app.state.settings = original.model_copy(update={"suspect_dependency_depth": 0})
        assert await suspects(client, chain) == [("checkout-30", ["checkout"])]
        app.state.settings = original.model_copy(update={"suspect_dependency_depth": 10})
        found = await suspects(client, chain)
    finally:
        app.state.settings = original
    assert found == [
        ("vault-5", ["checkout", "payments", "ledger", "vault"]),
        ("payments-10", ["checkout", "payments"]),
        ("ledger-20", ["checkout", "payments", "ledger"]),
        ("checkout-30", ["checkout"]),
    ]


async def test_at_equal_distance_the_incidents_own_service_ranks_first(client):
    await create(client, "checkout", depends_on=["payments"])
    for n in range(3):
        await deploy(client, "payments", 10, name=f"payments-{n}")
        await deploy(client, "checkout", 10, name=f"checkout-{n}")
    incident = await make_incident(client, services=["checkout"], started_at=IMPACT.isoformat())
    found = [name for name, _ in await suspects(client, incident)]
    assert [name.split("-")[0] for name in found] == ["checkout"] * 3 + ["payments"] * 3
    # the cursor walks the same order, one at a time, every suspect once
    walked, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get(f"/api/v1/incidents/{incident['id']}/suspect-deploys", params=params)
        ).json()
        walked += [item["external_id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert walked == found
    bad = await client.get(
        f"/api/v1/incidents/{incident['id']}/suspect-deploys", params={"cursor": "bm9wZQ"}
    )
    assert_problem(bad, 422)
