"""The policy file and what a bad one says; the formats receivers get; PagerDuty's
answers (202 delivered, 400 final, 429 and 5xx retried)."""

import json
import re
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy import select

from app.engagement.policy import DEFAULT, InvalidEscalationPolicy, load_policy, schedule_for
from app.main import create_app
from app.notifications.models import Delivery, Format
from tests.conftest import make_settings
from tests.engagement.helpers import LINK_SECRET, at, pagerduty_events
from tests.factories import join, make_incident
from tests.notifications.conftest import deliveries, running_app, subscribe
from tests.notifications.receiver import eventually

REPO = Path(__file__).resolve().parents[2]
POLICY_YAML = """\
levels:
  - after_minutes: 0
    targets:
      - {url: "https://hooks.slack.com/services/T000/B000/XXXX", format: slack}
  - after_minutes: 2.5
    targets:
      - url: https://events.pagerduty.com/v2/enqueue
        format: pagerduty
        routing_key: R0UT1NGKEY
services:
  payments:
    levels:
      - after_minutes: 0
        targets: [{url: "https://payments.example.org/hook", secret: "raw-secret-0123456789"}]
severities: [sev1, sev2]
"""


def test_a_policy_file_in_yaml_or_json_is_read_with_its_services(tmp_path):
    path = tmp_path / "escalation.yaml"
    path.write_text(POLICY_YAML)
    read = load_policy(make_settings("sqlite://", sre_escalation=str(path)))
    assert [level.after_minutes for level in read.levels] == [0, 2.5]
    assert read.covers("sev2")
    assert not read.covers("sev3")
    assert schedule_for(read, ["search", "payments"], {})[0] == "payments"
    assert schedule_for(read, ["search"], {}) == (DEFAULT, read.levels)
    as_json = tmp_path / "escalation.json"
    as_json.write_text(
        json.dumps(
            read.model_dump(mode="json")
            | {
                "levels": [
                    {
                        "after_minutes": 1,
                        "targets": [{"url": "https://x.example.org", "format": "msteams"}],
                    }
                ]
            }
        )
    )
    assert (
        load_policy(make_settings("sqlite://", sre_escalation=str(as_json)))
        .levels[0]
        .targets[0]
        .format
        == "msteams"
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            POLICY_YAML.replace("format: slack", "format: carrier-pigeon"),
            "levels.0.targets.0.format",
        ),
        (POLICY_YAML.replace("        routing_key: R0UT1NGKEY\n", ""), "levels.1.targets.0"),
        (POLICY_YAML.replace("after_minutes: 2.5", "after_minutes: -1"), "levels.1.after_minutes"),
        (POLICY_YAML.replace("severities: [sev1, sev2]", "severities: [sev9]"), "severities.0"),
        (
            POLICY_YAML.replace(
                "    levels:\n      - after_minutes: 0\n        targets: [{url",
                "    levls:\n      - after_minutes: 0\n        targets: [{url",
            ),
            "services.payments",
        ),
        ("levels: [", "cannot be read"),
    ],
)
def test_a_bad_policy_file_stops_start_up_naming_the_file_and_the_field(tmp_path, text, named):
    path = tmp_path / "escalation.yaml"
    path.write_text(text)
    with pytest.raises(InvalidEscalationPolicy) as refused:
        create_app(make_settings("sqlite://", sre_escalation=str(path)))
    assert str(path) in str(refused.value)
    assert named in str(refused.value)


def test_other_bad_policies_are_refused_at_start(tmp_path):
    cases = {
        str(tmp_path / "missing.yaml"): "missing.yaml",
        '{"levels": [{"after_minutes": 5, "targets": []}]}': "levels.0.targets",
        '{"levels": [{"after_minutes": 5, "targets": [{"url": "x"}]}], "x": 1}': "inline JSON",
        '{"levels": [{"after_minutes": 5, "targets": [{"url": "https://a.example.org"}]},'
        ' {"after_minutes": 1, "targets": [{"url": "https://b.example.org"}]}]}': "in order",
    }
    for source, named in cases.items():
        with pytest.raises(InvalidEscalationPolicy, match=named):
            create_app(make_settings("sqlite://", sre_escalation=source))
    with pytest.raises(InvalidEscalationPolicy, match="not both"):
        create_app(
            make_settings(
                "sqlite://", sre_escalation=POLICY_YAML, sre_notify_urls=["https://a.example.org"]
            )
        )


async def test_pagerduty_400_is_final_and_429_or_5xx_retried(backend, tmp_path, receiver):
    receiver.script = [429, 503, 202, 400]
    pagerduty = {"url": f"{receiver.url}/pd", "format": "pagerduty", "routing_key": "K"}
    only_pagerduty = json.dumps({"levels": [{"after_minutes": 0, "targets": [pagerduty]}]})
    async with running_app(
        backend, tmp_path, sre_escalation=only_pagerduty, delivery_max_attempts=4
    ) as (app, client):
        await make_incident(client, severity="sev1")
        await eventually(lambda: len(pagerduty_events(receiver)) >= 3, message="retries")
        await eventually(lambda: _pagerduty(app.state.database, "delivered"), message="202")
        await make_incident(client, severity="sev1", title="Second")
        (dead,) = await eventually(
            lambda: _pagerduty(app.state.database, "dead"), message="dead after one attempt"
        )
    assert dead.attempts == 1
    assert dead.last_error == "HTTP 400"
    assert len(pagerduty_events(receiver)) == 4


async def _pagerduty(database, status: str) -> list[Delivery]:
    async with database.sessionmaker() as session:
        found = await session.scalars(
            select(Delivery).where(Delivery.target_url.endswith("/pd"), Delivery.status == status)
        )
        return list(found.all())


async def test_subscriptions_get_slack_and_teams_messages_but_not_pagerduty(
    backend, tmp_path, receiver
):
    async with running_app(backend, tmp_path, link_secret=SecretStr(LINK_SECRET)) as (_, client):
        refused = await client.post(
            "/api/v1/subscriptions",
            json={"url": receiver.url, "events": ["*"], "format": "pagerduty"},
        )
        assert refused.status_code == 422
        assert "SRE targets" in refused.text
        teams = await subscribe(
            client, f"{receiver.url}/teams", format="msteams", events=["participant.joined"]
        )
        await subscribe(
            client, f"{receiver.url}/slack", format="slack", events=["participant.joined"]
        )
        incident = await make_incident(client, title="Search is slow", services=["search"])
        await join(client, incident, "carol", "commander")
        await eventually(lambda: deliveries(client, teams, status="delivered"), message="teams")
        (slack,) = await eventually(lambda: at(receiver, "/slack"), message="slack")
        (card,) = at(receiver, "/teams")
    assert card["type"] == "message"
    (attachment,) = card["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert content["type"] == "AdaptiveCard"
    assert content["body"][0]["text"] == "INC-1 Search is slow"
    facts = {fact["title"]: fact["value"] for fact in content["body"][2]["facts"]}
    assert facts["On it"] == "carol (commander)"
    assert [action["title"] for action in content["actions"]] == ["Open the incident"]
    assert "carol joined as commander" in slack["text"]
    assert "I'm on it (SRE)" not in json.dumps(slack), "no join link for subscribers"


def test_the_documented_policy_and_format_snippets_are_accepted(tmp_path):
    """docs/escalation.md: the policy file, the inline JSON and each format's target."""
    doc = (REPO / "docs" / "escalation.md").read_text()
    blocks = re.findall(r"```(yaml|sh)\n(.*?)```", doc, re.S)
    policy_file, *target_snippets = [text for kind, text in blocks if kind == "yaml"]
    path = tmp_path / "escalation.yaml"
    path.write_text(policy_file)
    read = load_policy(make_settings("sqlite://", sre_escalation=str(path)))
    assert [level.after_minutes for level in read.levels] == [0, 5, 15]
    assert {t.format for level in read.levels for t in level.targets} == set(Format)
    assert list(read.services) == ["payments"]
    inline = re.search(r"MUSTER_SRE_ESCALATION='(.*)'", doc)
    assert inline is not None
    assert load_policy(make_settings("sqlite://", sre_escalation=inline.group(1))).levels
    for snippet in target_snippets:
        targets = [t for t in yaml.safe_load(snippet) if isinstance(t, dict)]
        level = {"after_minutes": 0, "targets": targets}
        assert load_policy(
            make_settings("sqlite://", sre_escalation=json.dumps({"levels": [level]}))
        )


async def test_a_stakeholder_update_reaches_slack_and_teams_with_its_message(
    backend, tmp_path, receiver
):
    async with running_app(backend, tmp_path) as (_, client):
        events = ["status_update.published"]
        teams = await subscribe(client, f"{receiver.url}/teams", format="msteams", events=events)
        await subscribe(client, f"{receiver.url}/slack", format="slack", events=events)
        incident = await make_incident(client, title="Checkout errors")
        published = await client.post(
            f"/api/v1/incidents/{incident['id']}/updates",
            json={
                "message": "Payments fail for 5% of users; rollback under way",
                "audience": "stakeholders",
            },
        )
        assert published.status_code == 201, published.text
        await eventually(lambda: deliveries(client, teams, status="delivered"), message="teams")
        (slack,) = await eventually(lambda: at(receiver, "/slack"), message="slack")
        (card,) = at(receiver, "/teams")
    headline = "Update for stakeholders by service:bootstrap-admin: Payments fail for 5% of users"
    assert headline in slack["text"]
    assert headline in json.dumps(card["attachments"][0]["content"]["body"])
