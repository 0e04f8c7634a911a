"""What a receiver gets: the Standard Webhooks envelope, or one readable line for Slack.

Both are rendered once per attempt from the stored event, as compact JSON bytes; the
bytes rendered are the bytes signed and sent.
"""

import json
from datetime import UTC, datetime
from typing import Any

from app.core.api import API_PREFIX
from app.core.events import EventType
from app.notifications.models import Format

SEVERITY_RANK = {"sev1": 1, "sev2": 2, "sev3": 3, "sev4": 4}
SRE_SEVERITIES = frozenset({"sev1", "sev2"})


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def envelope(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks payload shape: `type`, `timestamp` (of the event), `data`."""
    return {"type": event_type, "timestamp": rfc3339(occurred_at), "data": data}


def severity_raised_to_sre_level(data: dict[str, Any]) -> bool:
    """True when an `incident.updated` raised the severity to sev1 or sev2."""
    change = (data.get("changes") or {}).get("severity")
    if not isinstance(change, dict):
        return False
    before, after = change.get("from"), change.get("to")
    if after not in SRE_SEVERITIES or before not in SEVERITY_RANK:
        return False
    return SEVERITY_RANK[after] < SEVERITY_RANK[before]


def concerns_sre(event_type: str, data: dict[str, Any]) -> bool:
    """Whether the SRE targets get this event: every new incident, and a raise to sev1/sev2."""
    if event_type == EventType.INCIDENT_CREATED:
        return True
    return event_type == EventType.INCIDENT_UPDATED and severity_raised_to_sre_level(data)


def _escape(text: object) -> str:
    """Slack's mrkdwn needs only &, < and > escaped."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _headline(event_type: str, data: dict[str, Any]) -> str:
    if event_type == EventType.INCIDENT_CREATED:
        return "New incident"
    if event_type == EventType.INCIDENT_UPDATED:
        changes = data.get("changes") or {}
        parts = [
            f"{name} {change.get('from')} → {change.get('to')}"
            if name == "severity" and isinstance(change, dict)
            else name
            for name, change in changes.items()
        ]
        return "Incident updated: " + ", ".join(parts) if parts else "Incident updated"
    if event_type == EventType.INCIDENT_STATUS_CHANGED:
        return f"Status {data.get('from')} → {data.get('to')}"
    participant = data.get("participant") or {}
    if event_type == EventType.PARTICIPANT_JOINED:
        return f"{participant.get('handle')} joined as {participant.get('role')}"
    if event_type == EventType.PARTICIPANT_LEFT:
        return f"{participant.get('handle')} left"
    if event_type == EventType.TIMELINE_EVENT_ADDED:
        return f"Timeline: {(data.get('entry') or {}).get('summary')}"
    return f"Event {event_type}"


def slack_text(event_type: str, data: dict[str, Any], public_url: str) -> str:
    """One line: what happened, then reference, title, severity, status and a link."""
    headline = _escape(_headline(event_type, data))
    incident = data.get("incident")
    if not isinstance(incident, dict) or "id" not in incident:
        return f"{headline} (Muster `{_escape(event_type)}`)"
    reference = _escape(incident.get("reference", "incident"))
    link = f"{public_url}{API_PREFIX}/incidents/{incident.get('reference') or incident['id']}/page"
    return (
        f"{headline} · *{reference}* {_escape(incident.get('title', ''))} · "
        f"severity {_escape(incident.get('severity'))} · status {_escape(incident.get('status'))}"
        f" · <{link}|{reference}>"
    )


def render(
    body_format: Format,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    *,
    public_url: str,
) -> bytes:
    if body_format == Format.SLACK:
        return _json({"text": slack_text(event_type, data, public_url)})
    return _json(envelope(event_type, occurred_at, data))
