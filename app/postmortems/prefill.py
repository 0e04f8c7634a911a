"""The sections of a retrospective as Muster drafts them from the record, before anyone writes.

Plain text, one finding per line (`- …`): people edit it, and the Markdown rendering
escapes it like any other text.
"""

from app.postmortems.schemas import Duration, PostmortemOut
from app.retrospectives.schemas import Sections


def _span(duration: Duration | None) -> str | None:
    return duration.text if duration else None


def _impact(doc: PostmortemOut) -> str:
    services = ", ".join(doc.services) or "no service named"
    start = doc.impact.started_at.strftime("%Y-%m-%d %H:%M UTC")
    if doc.impact.ended_at is None:
        return f"{doc.severity} impact on {services} since {start}, still ongoing."
    end = doc.impact.ended_at.strftime("%Y-%m-%d %H:%M UTC")
    length = _span(doc.impact.duration)
    return (
        f"{doc.severity} impact on {services} from {start} to {end} ({length}), "
        f"until {doc.impact.ended_by}."
    )


def _went_well(doc: PostmortemOut) -> list[str]:
    found = []
    if (engaged := _span(doc.durations.time_to_sre_engagement)) is not None:
        found.append(f"SRE engaged {engaged} after the impact began.")
    if (mitigated := _span(doc.durations.time_to_mitigate)) is not None:
        found.append(f"Mitigated {mitigated} after the impact began.")
    found += [
        f"Rollback of {r.service} to {r.to_version or 'the previous version'} verified."
        for r in doc.rollback_reviews
        if r.status == "verified"
    ]
    return found


def _went_wrong(doc: PostmortemOut) -> list[str]:
    found = []
    if doc.cause is not None:
        c = doc.cause
        found.append(f"Caused by the deploy of {c.service} {c.version or ''} to {c.environment}.")
    found += [
        f"Suspect deploy {d.service} {d.version or ''} {d.status}, "
        f"{d.minutes_before_impact:g} min before the impact."
        for d in doc.suspect_deploys
        if d.failed
    ]
    missed = [item.label for item in doc.checklist if not item.done]
    if missed:
        found.append("Checklist items not done: " + "; ".join(missed) + ".")
    return [" ".join(line.split()) for line in found]


def _bullets(lines: list[str]) -> str | None:
    return "\n".join(f"- {line}" for line in lines) or None


def draft_sections(doc: PostmortemOut) -> Sections:
    """What the record says for each section; what it cannot know is left empty."""
    return Sections(
        summary=doc.summary or doc.title,
        impact=_impact(doc),
        what_went_well=_bullets(_went_well(doc)),
        what_went_wrong=_bullets(_went_wrong(doc)),
        where_we_were_lucky=None,
        notes=None,
    )
