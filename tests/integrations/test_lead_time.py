"""DORA's lead time for changes: from the commit time the sender gives to the deploy's
success, in the summary report."""

from tests.integrations.test_github import WORKFLOW_RUN, with_changes
from tests.integrations.test_github import post as post_github
from tests.integrations.test_gitlab import STAGING, job, pipeline
from tests.integrations.test_gitlab import post as post_gitlab

SUMMARY = "/api/v1/reports/summary"


async def lead_time(client, **params):
    response = await client.get(SUMMARY, params=params)
    assert response.status_code == 200, response.text
    return response.json()["lead_time_for_changes"]


async def test_a_github_workflow_run_gives_the_head_commits_time(sender, client):
    body = with_changes(WORKFLOW_RUN, workflow={"name": "Deploy to production"})
    response = await post_github(sender, body, "workflow_run")
    assert response.json()["status"] == "recorded", response.text
    deploy = (await client.get(f"/api/v1/deploys/{response.json()['deploy_id']}")).json()
    # head_commit.timestamp 16:32:07, the run completed (updated_at) at 16:33:49.
    assert (deploy["committed_at"], deploy["finished_at"]) == (
        "2020-10-05T16:32:07Z",
        "2020-10-05T16:33:49Z",
    )
    window = {"from": "2020-10-01T00:00:00Z", "to": "2020-10-31T00:00:00Z"}
    assert await lead_time(client, **window) == {
        "count": 1,
        "median_seconds": 102.0,
        "p90_seconds": 102.0,
    }
    assert (await lead_time(client, **window, service="elsewhere"))["count"] == 0


async def test_a_gitlab_pipeline_gives_its_commits_time(sender, client):
    body = pipeline(
        job(
            381,
            "deploy-staging",
            "success",
            STAGING,
            started_at="2016-08-12 15:24:00 UTC",
            finished_at="2016-08-12 15:26:30 UTC",
        )
    )
    response = await post_gitlab(sender, body)
    assert response.status_code == 200, response.text
    deploy = (await client.get(f"/api/v1/deploys/{response.json()['deploy_id']}")).json()
    assert deploy["committed_at"] == "2016-08-12T15:23:21Z"  # 17:23:21 at +0200
    window = {"from": "2016-08-01T00:00:00Z", "to": "2016-08-31T00:00:00Z"}
    assert (await lead_time(client, **window))["median_seconds"] == 189.0


async def test_committed_at_on_the_api_counts_only_for_succeeded_deploys(client):
    reports = [
        ("succeeded", "2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z"),  # 1 h
        ("succeeded", "2026-11-03T10:00:00Z", "2026-11-03T10:10:00Z"),  # 10 min
        ("succeeded", "2026-11-04T10:00:00Z", "2026-11-05T10:00:00Z"),  # 1 day
        ("failed", "2026-11-04T10:00:00Z", "2026-11-04T10:05:00Z"),  # not a change delivered
        ("succeeded", None, "2026-11-06T10:05:00Z"),  # no commit time: not measured
    ]
    for status, committed, finished in reports:
        body = {"service": "checkout", "environment": "production", "status": status}
        body |= {"finished_at": finished} | ({"committed_at": committed} if committed else {})
        response = await client.post("/api/v1/deploys", json=body)
        assert response.status_code == 201, response.text
    window = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
    # nearest rank over [600, 3600, 86400]: median the 2nd, p90 the 3rd
    assert await lead_time(client, **window) == {
        "count": 3,
        "median_seconds": 3600.0,
        "p90_seconds": 86400.0,
    }
    bad = await client.post(
        "/api/v1/deploys",
        json={"service": "s", "environment": "e", "status": "succeeded", "committed_at": "soon"},
    )
    assert bad.status_code == 422
