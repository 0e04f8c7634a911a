"""What the escalation tests share: a policy in short minutes, PagerDuty's own schema."""

import json
from typing import Any

import jsonschema

from tests.conftest import FIXTURES
from tests.notifications.receiver import Receiver

LINK_SECRET = "join-link-secret-for-tests-0123"
# PagerDuty's published Events API v2 description (tests/fixtures/README.md).
_DOCUMENT = json.loads((FIXTURES / "pagerduty" / "events-v2-openapiv3.json").read_text())
_ENQUEUE = _DOCUMENT["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]
ENQUEUE_VALIDATOR = jsonschema.Draft7Validator(
    {**_ENQUEUE["schema"], "components": _DOCUMENT["components"]}
)


def pagerduty_events(receiver: Receiver, path: str = "/pd") -> list[dict[str, Any]]:
    """What reached the PagerDuty receiver, each checked against the `/enqueue` schema."""
    events = [r.json() for r in receiver.received if r.path == path]
    for event in events:
        ENQUEUE_VALIDATOR.validate(event)
    return events


def policy(receiver: Receiver, *after_minutes: float, **extra: Any) -> str:
    """Inline JSON: level 0 to Slack, level 1 to PagerDuty, level 2 to a signed webhook."""
    targets = [
        {"url": f"{receiver.url}/slack", "format": "slack"},
        {"url": f"{receiver.url}/pd", "format": "pagerduty", "routing_key": "R0UT1NGKEY"},
        {"url": f"{receiver.url}/hook", "format": "standard-webhooks"},
    ]
    levels = [
        {"after_minutes": after, "targets": [targets[n]]} for n, after in enumerate(after_minutes)
    ]
    return json.dumps({"levels": levels} | extra)


def at(receiver: Receiver, path: str) -> list[Any]:
    return [r.json() for r in receiver.received if r.path == path]
