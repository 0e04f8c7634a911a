"""The incident page: everything a person needs at a glance, as one HTML document.

Every piece of text that comes from people or integrations goes through `_text` (HTML
escaping); the postmortem is the draft's own Markdown, whose user text is already
escaped, rendered by markdown-it with raw HTML off.
"""

from collections.abc import Iterable
from datetime import datetime
from html import escape

from markdown_it import MarkdownIt

from app.catalog.models import IncidentLink
from app.core.api import API_PREFIX
from app.incidents.schemas import IncidentOut
from app.postmortems import markdown
from app.postmortems.schemas import PostmortemOut
from app.rollbacks.models import NEXT_ACTION, ReviewAction, RollbackReview

STYLESHEET = "/pages/muster.css"
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_NONE = "—"

_NEXT_STEP = {
    ReviewAction.DECISION: "a second person (not {requested_by}) approves or rejects it",
    ReviewAction.EXECUTION: "roll back, then report the execution",
    ReviewAction.VERIFICATION: "check whether the service recovered, then report it",
}

CSS = """\
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
main { max-width: 980px; margin: 0 auto; padding: 24px; }
header, section { background: #fff; border: 1px solid #d8dde3; border-radius: 8px;
  padding: 16px 20px; margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 0 0 10px; }
.badges span { display: inline-block; border-radius: 4px; padding: 1px 8px; margin-right: 6px;
  font-weight: 600; font-size: 13px; background: #e8ebef; }
.badges .sev1, .badges .sev2 { background: #fde2e1; color: #a4141b; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 12px 0 0; }
dt { color: #57606a; } dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; }
.done { color: #1a7f37; } .todo { color: #9a6700; } .failed { color: #a4141b; }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline li { padding: 6px 0; border-bottom: 1px solid #eaeef2; }
.when { color: #57606a; font-variant-numeric: tabular-nums; margin-right: 8px; }
.kind { font-size: 12px; background: #e8ebef; border-radius: 4px; padding: 0 6px; }
.next { background: #fff8c5; border-radius: 6px; padding: 8px 12px; }
code { background: #eff1f3; border-radius: 4px; padding: 0 4px; }
.empty { color: #57606a; font-style: italic; }
"""


def _text(value: object) -> str:
    return _NONE if value is None or value == "" else escape(str(value))


def _when(moment: datetime | None) -> str:
    return f"{markdown.when(moment)} UTC" if moment else _NONE


def _table(headers: Iterable[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{empty}</p>'
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _header(incident: IncidentOut) -> str:
    facts = [
        ("Commander", _text(incident.commander)),
        ("Services", _text(", ".join(incident.services))),
        ("Impact started", _when(incident.started_at)),
        ("Acknowledged", _when(incident.acknowledged_at)),
        ("Mitigated", _when(incident.mitigated_at)),
        ("Resolved", _when(incident.resolved_at)),
    ]
    return (
        f'<header id="incident"><h1>{_text(incident.reference)}: {_text(incident.title)}</h1>'
        f'<p class="badges"><span class="{incident.severity}">{incident.severity}</span>'
        f"<span>{incident.status}</span></p>"
        + (f"<p>{_text(incident.summary)}</p>" if incident.summary else "")
        + "<dl>"
        + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
        + "</dl></header>"
    )


def _links(links: list[IncidentLink]) -> str:
    """Runbooks, dashboards and other pages; every URL is an http(s) one (validated)."""
    rows = [
        [
            _text(link.kind),
            f'<a href="{escape(link.url)}" rel="noopener noreferrer">{_text(link.title)}</a>',
            _text(link.source),
        ]
        for link in links
    ]
    table = _table(("Kind", "Link", "From"), rows, "No runbook or dashboard linked yet.")
    return f'<section id="links"><h2>Runbooks and links</h2>{table}</section>'


def _participants(doc: PostmortemOut) -> str:
    rows = [
        [
            _text(p.handle),
            _text(p.name),
            " → ".join(p.roles),
            _when(p.joined_at),
            _when(p.left_at) if p.left_at else '<span class="done">on it</span>',
        ]
        for p in doc.participants
    ]
    table = _table(("Handle", "Name", "Roles", "Joined", "Left"), rows, "Nobody has joined yet.")
    return f'<section id="participants"><h2>Participants</h2>{table}</section>'


def _checklist(doc: PostmortemOut) -> str:
    rows = [
        [
            '<span class="done">✔ done</span>' if item.done else '<span class="todo">○ open</span>',
            f"{_text(item.label)} <code>{_text(item.key)}</code>",
            _text(item.done_by),
            _text(item.note),
        ]
        for item in doc.checklist
    ]
    table = _table(("", "Item", "By", "Note"), rows, "No checklist.")
    return f'<section id="checklist"><h2>Checklist</h2>{table}</section>'


def _review(incident: IncidentOut, review: RollbackReview | None) -> str:
    if review is None:
        body = '<p class="empty">No rollback review is open.</p>'
    else:
        action = NEXT_ACTION[review.status]
        url = f"{API_PREFIX}/incidents/{incident.reference}/rollback-reviews/{review.id}/{action}"
        step = _NEXT_STEP[action].format(requested_by=_text(review.requested_by))
        versions = f"{_text(review.from_version)} → {_text(review.to_version)}"
        procedure = "".join(f"<li>{_text(line)}</li>" for line in review.procedure)
        body = (
            f"<p><strong>{_text(review.service)}</strong> {versions} in "
            f"{_text(review.environment)} · <span>{review.status}</span> · requested by "
            f"{_text(review.requested_by)}"
            + (f", reviewed by {_text(review.reviewer)}" if review.reviewer else "")
            + f"</p><ol>{procedure}</ol>"
            + (f"<p>Risks: {_text(review.risks)}</p>" if review.risks else "")
            + f'<p class="next">Next step: {step} (<code>POST {escape(url)}</code>)</p>'
        )
    return f'<section id="rollback"><h2>Open rollback review</h2>{body}</section>'


def _suspects(doc: PostmortemOut) -> str:
    rows = [
        [
            _text(d.service),
            _text(d.version),
            _text(d.environment),
            f'<span class="failed">{d.status}</span>' if d.failed else str(d.status),
            f"{d.minutes_before_impact:g} min before",
        ]
        for d in doc.suspect_deploys
    ]
    table = _table(
        ("Service", "Version", "Environment", "Status", "Impact"),
        rows,
        "No deploy of these services in the 24 h before the impact.",
    )
    return f'<section id="suspects"><h2>Suspect deploys</h2>{table}</section>'


def _timeline(doc: PostmortemOut) -> str:
    items = "".join(
        f'<li><span class="when">{_when(e.occurred_at)}</span>'
        f'<span class="kind">{e.kind}</span> '
        + (f"<strong>{_text(e.author)}</strong>: " if e.author else "")
        + _text(e.summary)
        + (f"<br>{_text(e.body)}" if e.body else "")
        + "</li>"
        for e in doc.timeline
    )
    return f'<section id="timeline"><h2>Timeline</h2><ol class="timeline">{items}</ol></section>'


def render(
    incident: IncidentOut,
    doc: PostmortemOut,
    review: RollbackReview | None,
    links: list[IncidentLink],
) -> str:
    """The page; `review` is the open rollback review, if any."""
    postmortem = _MARKDOWN.render(markdown.render(doc))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_text(incident.reference)}: {_text(incident.title)} · Muster</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}"></head><body><main>'
        + _header(incident)
        + _links(links)
        + _participants(doc)
        + _checklist(doc)
        + _review(incident, review)
        + _suspects(doc)
        + _timeline(doc)
        + f'<section id="postmortem"><h2>Postmortem draft</h2>{postmortem}</section>'
        + "</main></body></html>"
    )


def open_review(reviews: Iterable[RollbackReview]) -> RollbackReview | None:
    """The newest review still waiting for a step."""
    waiting = [review for review in reviews if review.status in NEXT_ACTION]
    return waiting[-1] if waiting else None
