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
Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at
rank ceil(p/100 * n), so every figure is an observed duration (the median of an even
count is the lower middle value).
"""

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

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


def mitigated_at(incident: Incident) -> datetime | None:
    return incident.mitigated_at or incident.resolved_at


def resolved_at(incident: Incident) -> datetime | None:
    return incident.resolved_at


def is_sre_entry(kind: str, data: dict[str, Any]) -> bool:
    return kind in ROLE_KINDS and data.get("role") == Role.SRE


def seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of `values` (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


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
