"""How Muster measures an incident: the definitions shared by postmortems and reports.

All durations run from the impact start (`started_at`):
- acknowledged: `acknowledged_at`; for an incident moved straight to `investigating`,
  `investigating_at` (but not when that stamp comes from a reopening after mitigation);
- SRE engaged: the first time someone held the `sre` role on the incident, whether they
  joined as `sre` or changed to it later (the `participant_joined` / `role_changed`
  timeline entries, which are read-only);
- mitigated: `mitigated_at`, or `resolved_at` for an incident resolved without being
  marked mitigated first;
- resolved: `resolved_at`.
Percentiles are nearest-rank (`app.core.aggregates.nearest_rank`): the p-th percentile
of n sorted values is the value at rank ceil(p/100 * n), so every figure is an observed
duration (the median of an even count is the lower middle value).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import col

from app.incidents.models import Incident
from app.participants.models import Role
from app.timeline.models import EntryKind

ROLE_KINDS = (EntryKind.PARTICIPANT_JOINED, EntryKind.ROLE_CHANGED)


def acknowledged_at(incident: Incident) -> datetime | None:
    if incident.acknowledged_at is not None:
        return incident.acknowledged_at
    reached = incident.investigating_at
    if reached is None:
        return None
    later = [t for t in (incident.mitigated_at, incident.resolved_at) if t is not None]
    return reached if all(reached <= t for t in later) else None


def acknowledged_at_sql() -> ColumnElement[datetime | None]:
    """`acknowledged_at` above, as SQL over the incidents table."""
    reached = col(Incident.investigating_at)
    not_reopened = and_(
        or_(col(Incident.mitigated_at).is_(None), reached <= col(Incident.mitigated_at)),
        or_(col(Incident.resolved_at).is_(None), reached <= col(Incident.resolved_at)),
    )
    return case(
        (col(Incident.acknowledged_at).is_not(None), col(Incident.acknowledged_at)),
        (and_(reached.is_not(None), not_reopened), reached),
        else_=None,
    )


def mitigated_at_sql() -> ColumnElement[datetime | None]:
    """`mitigated_at` below, as SQL."""
    return func.coalesce(col(Incident.mitigated_at), col(Incident.resolved_at))


def mitigated_at(incident: Incident) -> datetime | None:
    return incident.mitigated_at or incident.resolved_at


def resolved_at(incident: Incident) -> datetime | None:
    return incident.resolved_at


def is_sre_entry(kind: str, data: dict[str, Any]) -> bool:
    return kind in ROLE_KINDS and data.get("role") == Role.SRE


def seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def humanize(total: float) -> str:
    """A duration as people say it: `45 s`, `4 min 5 s`, `1 h 5 min`, `2 d 3 h`."""
    sign = "-" if total < 0 else ""
    left = int(abs(total))
    units = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        amount, left = divmod(left, size)
        if amount and len(parts) < 2:
            parts.append(f"{amount} {name}")
        elif parts:
            break
    return sign + (" ".join(parts) if parts else "0 s")
