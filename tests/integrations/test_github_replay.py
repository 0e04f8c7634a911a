"""A captured GitHub body replayed under a new delivery id cannot roll a deploy back."""

import pytest

from app.deploys.models import Deploy
from tests.deploys.helpers import count, deploy_events
from tests.integrations.test_github import (
    DEPLOYMENT_STATUS,
    RELEASE,
    WORKFLOW_RUN,
    post,
    with_changes,
)

EARLY, LATE = "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"
KINDS = {
    # event, fixture, changes for an event at a time, what the replay would have changed
    "deployment_status": (
        DEPLOYMENT_STATUS,
        lambda at, failed: {
            "deployment_status": {
                "state": "failure" if failed else "success",
                "created_at": at,
                "updated_at": at,
            }
        },
    ),
    "workflow_run": (
        WORKFLOW_RUN,
        lambda at, failed: {
            "workflow": {"name": "Deploy to production"},
            "workflow_run": {
                "conclusion": "failure" if failed else "success",
                "updated_at": at,
                "run_started_at": EARLY,
            },
        },
    ),
}


@pytest.mark.parametrize("event", sorted(KINDS))
async def test_an_older_event_replayed_changes_nothing(sender, client, database, event):
    fixture, changes = KINDS[event]
    captured = with_changes(fixture, **changes(EARLY, True))  # the attacker keeps this one
    first = await post(sender, captured, event)
    assert first.json()["status"] == "recorded", first.text
    fixed = await post(sender, with_changes(fixture, **changes(LATE, False)), event)
    assert fixed.json()["status"] == "updated", fixed.text
    deploy_id = first.json()["deploy_id"]
    before = (await client.get(f"/api/v1/deploys/{deploy_id}")).json()
    assert before["status"] == "succeeded"

    replayed = await post(sender, captured, event)  # same signed bytes, a new delivery id
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == "ignored"
    assert "older" in replayed.json()["detail"]
    assert (await client.get(f"/api/v1/deploys/{deploy_id}")).json() == before
    assert await count(database, Deploy) == 1
    assert [e["status"] for e in await deploy_events(database)] == ["failed", "succeeded"]


async def test_a_release_replayed_after_its_republication_changes_nothing(sender, client):
    captured = with_changes(RELEASE, release={"published_at": EARLY, "tag_name": "1.0.0"})
    first = await post(sender, captured, "release")
    later = with_changes(RELEASE, release={"published_at": LATE, "tag_name": "1.0.1"})
    assert (await post(sender, later, "release")).json()["status"] == "updated"
    replayed = await post(sender, captured, "release")
    assert replayed.json()["status"] == "ignored", replayed.text
    deploy = (await client.get(f"/api/v1/deploys/{first.json()['deploy_id']}")).json()
    assert deploy["version"] == "1.0.1"
