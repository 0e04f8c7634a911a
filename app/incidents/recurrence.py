"""Recurrences: a new incident that repeats an earlier one is linked to it.

An earlier incident matches when it had an alert with the same fingerprint as one of
the new incident's alerts, or an alert of the same name (its `alertname`, or the
`alertname` label of an incident opened through the API) while sharing a service
with the new incident. Declined incidents (false alarms) are never matched. Only
incidents that started within the look-back
(`MUSTER_RECURRENCE_LOOKBACK_DAYS`, before the new one started) count, and the most
recent match wins. Every path that opens incidents links it once the incident is
complete: the API right after creating it, Alertmanager ingestion after attaching the
new incident's alerts.

Alertmanager's incidents come first to the last ended incident of their own alert group
or of their firing alerts, at any age: that one is linked as they open. Ingestion asks
for both in one look-up, before it opens the incident.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Row,
    Select,
    String,
    bindparam,
    cast,
    false,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.alerts.models import Alert
from app.core.db import UTCDateTime
from app.core.events import emit
from app.core.sql import Backend, backend_of, in_bound, json_list_has_any
from app.incidents import service as incident_service
from app.incidents.events import IncidentUpdated
from app.incidents.models import Incident, newest_match_first, reference_of
from app.incidents.state import NOT_MEASURED, OPEN
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind


@dataclass
class Match:
    id: uuid.UUID  # the earlier incident's
    number: int
    alertname: str | None = None
    service: str | None = None
    fingerprint: str | None = None
    # The last ended incident of the same alert group or firing alerts (Alertmanager).
    previous: bool = False

    @property
    def reference(self) -> str:
        return reference_of(self.number)

    @property
    def reason(self) -> str:
        if self.alertname and self.service:
            return f"{self.alertname} on {self.service}"
        return f"same alert: {self.alertname or 'fingerprint'} {self.fingerprint}"


async def find_earlier(
    session: AsyncSession,
    *,
    number: int | None,
    started_at: datetime,
    services: Sequence[str],
    labels: Mapping[str, str],
    alerts: Sequence[tuple[str, str | None]],
    lookback_days: int,
    group: str | None = None,
    firing: Sequence[str] = (),
) -> Match | None:
    """The most recent earlier incident that a new incident repeats, if any.

    The new incident is described by its `number` (None before it is created: then
    every incident is earlier), `started_at`, `services`, `labels` and `alerts`, its
    (fingerprint, alertname) pairs. With `group` and `firing` (fingerprints), the last
    ended incident of that group or of those alerts comes first, at any age
    (`Match.previous`). One round trip: an indexed look-up per kind of match, each
    taking only its newest candidate; by name, among the newest incidents first (see
    `_lookups`), so neither a rare match nor one that most incidents share reads them all.
    """
    fingerprints = sorted({fingerprint for fingerprint, _ in alerts})
    names = {name for _, name in alerts if name}
    if labels.get("alertname"):
        names.add(labels["alertname"])
    by_name, by_fingerprint = bool(names and services), bool(fingerprints)
    previous = group is not None
    if not (by_name or by_fingerprint or previous):
        return None
    shape = (by_name, by_fingerprint, previous, number is not None)
    statement = _lookups(backend_of(session), *shape)
    found = (
        await session.execute(
            statement,
            {
                "number": number,
                "since": started_at - timedelta(days=lookback_days),
                "names": sorted(names),
                "services": list(services),
                "fingerprints": fingerprints,
                "group": group,
                "firing": sorted(set(firing)),
            },
        )
    ).all()
    if last := max((row for row in found if row.previous), key=_number, default=None):
        return Match(last.id, last.number, previous=True)
    if not found:
        return None
    newest = max(row.number for row in found)
    best = [row for row in found if row.number == newest]
    named = next((row for row in best if row.fingerprint is None), None)
    same_alert = next((row for row in best if row.fingerprint is not None), None)
    return Match(
        best[0].id,
        newest,
        alertname=(named or best[0]).name,
        service=next(s for s in services if s in named.services) if named else None,
        fingerprint=same_alert.fingerprint if same_alert else None,
    )


def _number(row: Row[Any]) -> int:
    return int(row.number)


# How many of the newest incidents a look-up by name tries before all of its matches.
RECENT = 100
_NO = false().label("previous")  # a recurrence, not the previous incident of its group
_NO_NAME = cast(null(), String).label("name")
_NO_FINGERPRINT = cast(null(), String).label("fingerprint")


def _candidate(incidents: Any) -> tuple[Any, ...]:
    """What every look-up returns of the incident it found (the table or a subquery's)."""
    return (incidents.id, incidents.number, incidents.services)


@cache
def _lookups(
    backend: Backend, by_name: bool, by_fingerprint: bool, previous: bool, bounded: bool
) -> CompoundSelect[Any]:
    """The newest candidate of each kind of match, in one statement built once per shape.

    Bound at execution: `since`, and `number` when `bounded` (earlier, within the
    look-back), `names` and `services` (same alert name on a shared service),
    `fingerprints` (same alert); `group` and `firing` for the `previous` look-ups.
    """
    candidate = _candidate(Incident)
    newest = newest_match_first()
    lookups = []
    if previous:
        ended = col(Incident.status).not_in([*OPEN, *NOT_MEASURED])
        lookups += [
            select(*candidate, _NO_NAME, _NO_FINGERPRINT, true().label("previous")).where(
                ended, col(Incident.alert_group) == bindparam("group")
            ),
            select(*candidate, _NO_NAME, _NO_FINGERPRINT, true().label("previous"))
            .join(Alert, col(Alert.incident_id) == col(Incident.id))
            .where(ended, in_bound(col(Alert.fingerprint), "firing", backend)),
        ]
    if by_fingerprint:
        lookups.append(
            select(*candidate, col(Alert.alertname).label("name"), col(Alert.fingerprint), _NO)
            .join(Alert, col(Alert.incident_id) == col(Incident.id))
            .where(
                _earlier(Incident, bounded),
                in_bound(col(Alert.fingerprint), "fingerprints", backend),
            )
        )
    kinds = [select(q.order_by(newest).limit(1).subquery()) for q in lookups]
    if by_name:
        # A name shared by many earlier incidents (an alert storm, a flapping alert)
        # matches among the newest ones: those are tried first, by the number index,
        # and the look-up over every match runs only when none of them matches (both
        # databases read a UNION ALL's parts in order, and LIMIT 1 stops at the first
        # row). A match among the newest is the newest match of all.
        columns = ("id", "number", "services", "labels", "started_at", "status")
        recent: Any = (
            select(*(col(getattr(Incident, name)) for name in columns))
            .where(col(Incident.number) < bindparam("number") if bounded else true())
            .order_by(col(Incident.number).desc())  # by its index
            .limit(RECENT)
            .subquery()
            .c
        )
        for by_alert in (True, False):
            tries = [
                select(q.order_by(order).limit(1).subquery())
                for q, order in (
                    (_by_name(recent, by_alert, backend, bounded), recent.number.desc()),
                    (_by_name(Incident, by_alert, backend, bounded), newest),
                )
            ]
            first = select(union_all(*tries).subquery()).limit(1).subquery()
            kinds.append(select(first))
    return union_all(*kinds)


def _earlier(incidents: Any, bounded: bool) -> ColumnElement[bool]:
    """Started within the look-back (`since`), earlier than `number` when `bounded`, and
    neither declined nor merged: a false alarm repeats nothing, and a merged incident is
    repeated as its survivor."""
    since = bindparam("since", type_=UTCDateTime())
    earlier: ColumnElement[bool] = (incidents.started_at >= since) & ~incidents.status.in_(
        NOT_MEASURED
    )
    if bounded:
        earlier &= incidents.number < bindparam("number")
    return earlier


def _by_name(incidents: Any, by_alert: bool, backend: Backend, bounded: bool) -> Select[Any]:
    """Earlier `incidents` sharing a service that had an alert of one of `names`
    (`by_alert`), or carry one as their `alertname` label (incidents opened by the API)."""
    candidate = _candidate(incidents)
    shares = json_list_has_any(incidents.services, "services", backend)
    if by_alert:
        return (
            select(*candidate, col(Alert.alertname).label("name"), _NO_FINGERPRINT, _NO)
            .join(Alert, col(Alert.incident_id) == incidents.id)
            .where(
                _earlier(incidents, bounded),
                shares,
                in_bound(col(Alert.alertname), "names", backend),
            )
        )
    label = _alertname_label(incidents)
    return select(*candidate, label.label("name"), _NO_FINGERPRINT, _NO).where(
        _earlier(incidents, bounded), shares, in_bound(label, "names", backend)
    )


async def link_recurrence(
    session: AsyncSession,
    incident: Incident,
    *,
    lookback_days: int,
    actor: str,
) -> Match | None:
    """Link `incident`, just created through the API, to the earlier incident it repeats."""
    match = await find_earlier(
        session,
        number=incident.number,
        started_at=incident.started_at,
        services=incident.services,
        labels=incident.labels,
        alerts=(),
        lookback_days=lookback_days,
    )
    if match is not None:
        link(session, incident, match, actor=actor)
    return match


def link(session: AsyncSession, incident: Incident, match: Match, *, actor: str) -> None:
    """Record that `incident` repeats `match`: the link, its timeline entry and event."""
    incident.recurrence_of = match.id
    incident_service.touch(incident)
    timeline_service.record(
        session,
        incident,
        EntryKind.INCIDENT_UPDATED,
        f"Recurrence of {match.reference} ({match.reason})",
        author=actor,
        data={
            "recurrence_of": str(match.id),
            "reference": match.reference,
            "alertname": match.alertname,
            "service": match.service,
            "fingerprint": match.fingerprint,
        },
    )
    change = {"recurrence_of": {"from": None, "to": str(match.id)}}
    emit(session, IncidentUpdated.of(incident, change))


def _alertname_label(incidents: Any = Incident) -> ColumnElement[str]:
    """`labels ->> 'alertname'`, spelled exactly as its expression index is (both databases)."""
    label: ColumnElement[str] = incidents.labels.op("->>", return_type=String())(
        literal_column("'alertname'")
    )
    return label
