"""The organisational ledger: contributing factors of several incidents aggregated by
category, and the signals computed from the record."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident, move
from tests.postmortems.helpers import add_item, patch_item
from tests.rollbacks.helpers import decide, execute, propose

URL = "/api/v1/reports/contributing-factors"
WINDOW = {"from": "2026-01-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}


async def factor(
    client: httpx.AsyncClient, incident: dict[str, Any], category: str, **fields: Any
) -> dict[str, Any]:
    body = {"category": category, "description": f"{category} on {incident['reference']}"}
    response = await client.post(
        f"/api/v1/incidents/{incident['id']}/contributing-factors", json=body | fields
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def note(client: httpx.AsyncClient, incident: dict[str, Any], **entry: Any) -> None:
    response = await client.post(f"/api/v1/incidents/{incident['id']}/timeline", json=entry)
    assert response.status_code == 201, response.text


async def three_incidents(client: httpx.AsyncClient, clock) -> dict[str, Any]:
    """INC-1..3 in the window, all with sam as SRE; INC-4 long before it."""
    clock.set(datetime(2026, 1, 15, 10, 0, tzinfo=UTC))
    deploy = await client.post(
        "/api/v1/deploys",
        json={"service": "checkout", "environment": "production", "status": "succeeded"},
    )
    a = await make_incident(client, title="A", services=["checkout"])
    clock.advance(minutes=5)
    await join(client, a, "sam", "sre")
    clock.advance(minutes=15)  # the cause is named 15 min after SRE engaged
    patched = await client.patch(
        f"/api/v1/incidents/{a['id']}", json={"caused_by_deploy_id": deploy.json()["id"]}
    )
    assert patched.status_code == 200, patched.text
    clock.advance(minutes=25)
    await move(client, a, "mitigated")  # 45 min of impact
    await factor(client, a, "observability_gap")
    code = await factor(client, a, "code_change")
    done = await add_item(client, a, title="Review gate", addresses=code["id"])
    await patch_item(client, done, status="done")

    clock.set(datetime(2026, 2, 20, 8, 0, tzinfo=UTC))
    b = await make_incident(client, title="B", services=["checkout", "payments"])
    clock.advance(minutes=10)
    await join(client, b, "sam", "sre")
    clock.advance(minutes=30)
    await note(client, b, kind="decision", summary="The pool is the cause", data={"cause": True})
    clock.advance(minutes=20)
    await move(client, b, "mitigated")  # 60 min
    await factor(client, b, "observability_gap", services=["payments"])

    clock.set(datetime(2026, 4, 3, 12, 0, tzinfo=UTC))
    c = await make_incident(client, title="C", services=["checkout"])
    clock.advance(minutes=2)
    await join(client, c, "sam", "sre")
    await join(client, c, "alice", "commander")
    # Not a cause: only JSON `true` marks one.
    await note(client, c, kind="decision", summary="Maybe the cache", data={"cause": "yes"})
    review = await propose(client, c, requested_by="dana")
    assert (await decide(client, review)).status_code == 200
    assert (await execute(client, review)).status_code == 200
    clock.advance(minutes=28)
    await move(client, c, "mitigated")  # 30 min
    await factor(client, c, "nfr_not_verified")
    gap = await factor(client, c, "observability_gap")
    measure = await add_item(client, c, title="Pool metrics", kind="detect", addresses=gap["id"])

    clock.set(datetime(2025, 6, 1, 9, 0, tzinfo=UTC))
    d = await make_incident(client, title="D", services=["search"])
    await factor(client, d, "observability_gap")
    return {"measure": measure}


async def test_factors_of_three_incidents_aggregate_by_category(client, clock):
    made = await three_incidents(client, clock)
    response = await client.get(URL, params=WINDOW)
    assert response.status_code == 200, response.text
    ledger = response.json()
    assert ledger["window"] == WINDOW
    categories = ledger["categories"]
    assert [c["category"] for c in categories[:3]] == [
        "observability_gap",
        "code_change",
        "nfr_not_verified",
    ]
    gap, code, nfr = categories[:3]
    assert gap == {
        "category": "observability_gap",
        "label": "Missing metrics, logs or traces",
        "incidents": 3,
        "references": ["INC-1", "INC-2", "INC-3"],
        "impact_minutes": 135.0,
        "by_quarter": {"2026-Q1": 2, "2026-Q2": 1},
        "services": [
            {"service": "checkout", "incidents": 2},
            {"service": "payments", "incidents": 1},
        ],
        "open_measures": [
            {
                "action_item_id": made["measure"]["id"],
                "title": "Pool metrics",
                "kind": "detect",
                "status": "open",
                "incident_reference": "INC-3",
                "due": None,
                "overdue": False,
            }
        ],
    }
    assert (code["incidents"], code["impact_minutes"], code["open_measures"]) == (1, 45.0, [])
    assert (nfr["references"], nfr["impact_minutes"]) == (["INC-3"], 30.0)
    rest = categories[3:]
    assert {c["incidents"] for c in rest} == {0}
    assert len(categories) == 10

    payments = (await client.get(URL, params=WINDOW | {"service": "payments"})).json()
    gap = payments["categories"][0]
    assert (gap["category"], gap["references"], gap["impact_minutes"]) == (
        "observability_gap",
        ["INC-2"],
        60.0,
    )


async def test_people_concentration_suggests_a_key_person_dependency(client, clock):
    await three_incidents(client, clock)
    signals = (await client.get(URL, params=WINDOW)).json()["signals"]
    checkout, payments = signals["people_concentration"]
    assert checkout == {
        "service": "checkout",
        "incidents": 3,
        "people": [
            {"handle": "sam", "incidents": 3},
            {"handle": "alice", "incidents": 1},
            {"handle": "bob", "incidents": 1},
            {"handle": "carol", "incidents": 1},
        ],
        "top_share": 1.0,
        "suggestion": "key_person_dependency",
    }
    # One incident is too few to call anyone a key person.
    assert (payments["service"], payments["incidents"], payments["suggestion"]) == (
        "payments",
        1,
        None,
    )
    last_two = (await client.get(URL, params=WINDOW | {"last": 2})).json()["signals"]
    assert last_two["people_concentration"][0]["incidents"] == 2
    assert last_two["people_concentration"][0]["suggestion"] is None


async def test_time_to_cause_runs_from_sre_engagement_to_the_cause_named(client, clock):
    await three_incidents(client, clock)
    cause = (await client.get(URL, params=WINDOW)).json()["signals"]["time_to_cause"]
    assert cause == {
        "overall": {"count": 2, "median_seconds": 900.0, "p90_seconds": 1800.0},
        "by_service": {
            "checkout": {"count": 2, "median_seconds": 900.0, "p90_seconds": 1800.0},
            "payments": {"count": 1, "median_seconds": 1800.0, "p90_seconds": 1800.0},
        },
    }


async def test_an_empty_window_lists_every_category_with_nothing(client):
    ledger = (await client.get(URL, params={"from": "2020-01-01T00:00:00Z"})).json()
    assert [c["incidents"] for c in ledger["categories"]] == [0] * 10
    assert ledger["signals"]["people_concentration"] == []
    assert ledger["signals"]["time_to_cause"]["overall"]["count"] == 0


async def test_a_backwards_or_too_long_window_is_refused(client):
    assert_problem(
        await client.get(URL, params={"from": WINDOW["to"], "to": WINDOW["from"]}),
        422,
        "validation-error",
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    too_long = {"from": start.isoformat(), "to": (start + timedelta(days=401)).isoformat()}
    assert_problem(await client.get(URL, params=too_long), 422, "validation-error")
