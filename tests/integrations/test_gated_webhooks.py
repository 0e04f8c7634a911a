"""Deploys from webhooks pass the same release gate as those reported through the API."""

from tests.factories import make_incident
from tests.integrations.test_github import WORKFLOW_RUN, with_changes
from tests.integrations.test_github import post as post_github
from tests.postmortems.helpers import add_item


async def test_a_github_deploy_to_a_service_a_measure_has_not_reached_is_unprotected(
    sender, client
):
    incident = await make_incident(client, services=["checkout"])
    item = await add_item(client, incident, kind="prevent", rollout=[{"service": "octo-repo"}])
    body = with_changes(WORKFLOW_RUN, workflow={"name": "Deploy to production"})
    response = await post_github(sender, body, "workflow_run")
    deploy = (await client.get(f"/api/v1/deploys/{response.json()['deploy_id']}")).json()
    assert deploy["unprotected"] is True
    assert [m["action_item_id"] for m in deploy["missing_measures"]] == [item["id"]]
