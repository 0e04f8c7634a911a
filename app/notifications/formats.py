"""What a receiver gets, by the target's format.

- `standard-webhooks`: the envelope `{type, timestamp, data}` (plus `links.join` for SRE);
- `slack`: a Block Kit message (title, severity, status, services, who is on it, buttons
  to the incident and to the join link) with its plain-text fallback;
- `msteams`: an Adaptive Card attachment with the same content, for a Teams Workflows
  or incoming webhook;
- `pagerduty`: an Events API v2 event: `trigger` when a level fires, `acknowledge` when an
  SRE joins, `resolve` when the incident resolves or closes (`dedup_key` = incident id).

Each is rendered once per attempt from the stored event, as compact JSON bytes; the
bytes rendered are the bytes signed and sent.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.core.events import EventType
from app.notifications.models import Format

PAGERDUTY_SEVERITY = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
# Incident statuses that resolve a PagerDuty alert.
RESOLVING = frozenset({"resolved", "closed"})


@dataclass(frozen=True)
class Context:
    """What a message needs beyond the event: links, the PagerDuty key, who is on it."""

    public_url: str
    join_url: str | None = None
    routing_key: str | None = None
    on_it: list[str] = field(default_factory=list)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def envelope(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks payload shape: `type`, `timestamp` (of the event), `data`."""
    return {"type": event_type, "timestamp": rfc3339(occurred_at), "data": data}


def pagerduty_action(event_type: str, data: dict[str, Any]) -> str | None:
    """The Events API action an event stands for, if any."""
    if event_type == EventType.INCIDENT_ESCALATED:
        return "trigger"
    if event_type == EventType.PARTICIPANT_JOINED:
        return "acknowledge" if (data.get("participant") or {}).get("role") == "sre" else None
    if event_type == EventType.INCIDENT_STATUS_CHANGED and data.get("to") in RESOLVING:
        return "resolve"
    return None


def _escape(text: object) -> str:
    """Slack's mrkdwn needs only &, < and > escaped."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _headline(event_type: str, data: dict[str, Any]) -> str:
    if event_type == EventType.INCIDENT_CREATED:
        return "New incident"
    if event_type == EventType.INCIDENT_ESCALATED:
        minutes = round(float(data.get("waited_seconds") or 0) / 60, 1)
        return f"Escalation level {data.get('level')}: no SRE on it after {minutes:g} min"
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
    return _learning_headline(event_type, data) or f"Event {event_type}"


def _learning_headline(event_type: str, data: dict[str, Any]) -> str | None:
    """Headlines of the events about coordinating and learning from incidents."""
    if event_type == EventType.STATUS_UPDATE_PUBLISHED:
        update = data.get("update") or {}
        who = f"{update.get('audience')} by {update.get('author')}"
        return f"Update for {who}: {update.get('message')}"
    if event_type == EventType.INCIDENT_UPDATE_DUE:
        return f"An update is due: none for {float(data.get('cadence_minutes') or 0):g} min"
    if event_type == EventType.INCIDENT_MERGED:
        return f"Merged into {(data.get('into') or {}).get('reference')}"
    if event_type == EventType.ACTION_ITEM_OVERDUE:
        item = data.get("action_item") or {}
        return f"Action item overdue since {item.get('due')}: {item.get('title')}"
    if event_type == EventType.POSTMORTEM_PUBLISHED:
        return f"Retrospective published (revision {data.get('revision')})"
    if event_type == EventType.DEPLOY_UNPROTECTED:
        deploy = data.get("deploy") or {}
        missing = ", ".join(m.get("title", "") for m in deploy.get("missing_measures") or [])
        return f"{deploy.get('service')} {deploy.get('version')} deployed without: {missing}"
    return None


@dataclass(frozen=True)
class _Message:
    """The content Slack and Teams messages share."""

    headline: str
    incident: dict[str, Any] | None
    page: str | None
    on_it: str

    @classmethod
    def of(cls, event_type: str, data: dict[str, Any], context: Context) -> "_Message":
        incident = data.get("incident")
        if not isinstance(incident, dict) or "id" not in incident:
            return cls(_headline(event_type, data), None, None, "")
        page = f"{context.public_url}{(incident.get('links') or {}).get('page', '')}"
        if "links" not in incident:  # events carrying the short form: IncidentRef
            page = f"{context.public_url}/api/v1/incidents/{incident['id']}/page"
        return cls(_headline(event_type, data), incident, page, ", ".join(context.on_it))

    @property
    def title(self) -> str:
        incident = self.incident or {}
        return f"{incident.get('reference', 'Incident')} {incident.get('title', '')}".strip()

    def facts(self) -> list[tuple[str, str]]:
        incident = self.incident or {}
        facts = [
            ("Severity", str(incident.get("severity", "—"))),
            ("Status", str(incident.get("status", "—"))),
        ]
        if "services" in incident:
            facts.append(("Services", ", ".join(incident["services"]) or "—"))
        facts.append(("On it", self.on_it or "nobody yet"))
        return facts


def slack_text(event_type: str, data: dict[str, Any], context: Context) -> str:
    """One line: what happened, then reference, title, severity, status and a link."""
    message = _Message.of(event_type, data, context)
    headline = _escape(message.headline)
    if message.incident is None:
        return f"{headline} (Muster `{_escape(event_type)}`)"
    incident = message.incident
    reference = _escape(incident.get("reference", "incident"))
    return (
        f"{headline} · *{reference}* {_escape(incident.get('title', ''))} · "
        f"severity {_escape(incident.get('severity'))} · status {_escape(incident.get('status'))}"
        f" · <{message.page}|{reference}>"
    )


def _slack(event_type: str, data: dict[str, Any], context: Context) -> dict[str, Any]:
    message = _Message.of(event_type, data, context)
    text = slack_text(event_type, data, context)
    if message.incident is None:
        return {"text": text}
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open the incident"},
            "url": message.page,
        }
    ]
    if context.join_url:
        buttons.append(
            {
                "type": "button",
                "style": "primary",
                "text": {"type": "plain_text", "text": "I'm on it (SRE)"},
                "url": context.join_url,
            }
        )
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{_escape(value)}"} for name, value in message.facts()
    ]
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _escape(message.headline)}},
            {"type": "section", "fields": fields},
            {"type": "actions", "elements": buttons},
        ],
    }


def _msteams(event_type: str, data: dict[str, Any], context: Context) -> dict[str, Any]:
    message = _Message.of(event_type, data, context)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "text": message.title if message.incident else message.headline,
        },
    ]
    actions: list[dict[str, Any]] = []
    if message.incident is not None:
        body.append({"type": "TextBlock", "wrap": True, "text": message.headline})
        body.append(
            {"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in message.facts()]}
        )
        actions.append(
            {"type": "Action.OpenUrl", "title": "Open the incident", "url": message.page}
        )
    if context.join_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": "I'm on it (SRE)", "url": context.join_url}
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def _pagerduty(
    event_type: str, occurred_at: datetime, data: dict[str, Any], context: Context
) -> dict[str, Any]:
    action = pagerduty_action(event_type, data)
    incident = data.get("incident") or {}
    event: dict[str, Any] = {
        "routing_key": context.routing_key or "",
        "event_action": action or "trigger",
        "dedup_key": str(incident.get("id", "")),
    }
    if action != "trigger":
        return event
    message = _Message.of(event_type, data, context)
    links = [{"href": message.page, "text": f"{incident.get('reference')} in Muster"}]
    if context.join_url:
        links.append({"href": context.join_url, "text": "I'm on it (SRE): join the incident"})
    services = incident.get("services") or []
    payload = {
        "summary": f"[{incident.get('severity')}] {message.title} — {message.headline}"[:1024],
        "severity": PAGERDUTY_SEVERITY.get(str(incident.get("severity")), "critical"),
        "source": services[0] if services else "muster",
        "timestamp": rfc3339(occurred_at),
        "class": "incident",
        "custom_details": {
            "reference": incident.get("reference"),
            "status": incident.get("status"),
            "services": services,
            "escalation_level": data.get("level"),
            "waited_seconds": data.get("waited_seconds"),
            "on_it": context.on_it,
        },
    }
    if services:
        payload["component"] = ", ".join(services)
    return event | {
        "client": "Muster",
        "client_url": message.page,
        "payload": payload,
        "links": links,
    }


def render(
    body_format: Format,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    context: Context,
) -> bytes:
    if body_format == Format.SLACK:
        return _json(_slack(event_type, data, context))
    if body_format == Format.MSTEAMS:
        return _json(_msteams(event_type, data, context))
    if body_format == Format.PAGERDUTY:
        return _json(_pagerduty(event_type, occurred_at, data, context))
    body = envelope(event_type, occurred_at, data)
    if context.join_url:
        body["links"] = {"join": context.join_url}
    return _json(body)
