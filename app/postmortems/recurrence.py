"""Recurrences: a new incident that repeats an earlier one is linked to it.

An earlier incident matches when it had an alert with the same fingerprint as one of
the new incident's alerts, or an alert of the same name (its `alertname`, or the
`alertname` label of an incident opened through the API) while sharing a service
with the new incident. Only incidents that started within the look-back
(`MUSTER_RECURRENCE_LOOKBACK_DAYS`, before the new one started) count, and the most
recent match wins. Every path that opens incidents calls `link_recurrence` once the
incident is complete: the API right after creating it, Alertmanager ingestion after
attaching the new incident's alerts.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    String,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.alerts.models import Alert
from app.core.clock import utcnow
from app.core.db import UTCDateTime
from app.core.events import EventType, emit
from app.incidents import service as incident_service
from app.incidents.models import Incident, newest_match_first, reference_of
from app.incidents.schemas import IncidentOut
from app.postmortems import actions
from app.postmortems.models import RolloutStatus
from app.postmortems.schemas import (
    ActionItemOut,
    IncidentBrief,
    RecurrenceActionItem,
    RecurrenceOut,
)
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind


@dataclass
class Match:
    earlier_id: uuid.UUID
    number: int
    alertname: str | None = None
    service: str | None = None
    fingerprint: str | None = None

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
    incident: Incident,
    *,
    alerts: Sequence[tuple[str, str | None]],
    lookback_days: int,
) -> Match | None:
    """The most recent earlier incident that `incident`, with `alerts`, repeats, if any.

    `alerts` are the incident's (fingerprint, alertname) pairs. One round trip: an
    indexed look-up per kind of match, each taking only its newest candidate, so the
    cost does not grow with the number of earlier incidents.
    """
    fingerprints = sorted({fingerprint for fingerprint, _ in alerts})
    names = {name for _, name in alerts if name}
    if incident.labels.get("alertname"):
        names.add(incident.labels["alertname"])
    services = incident.services
    by_name, by_fingerprint = bool(names and services), bool(fingerprints)
    if not by_name and not by_fingerprint:
        return None
    statement = _lookups(session.get_bind().dialect.name, by_name, by_fingerprint)
    found = (
        await session.execute(
            statement,
            {
                "number": incident.number,
                "since": incident.started_at - timedelta(days=lookback_days),
                "names": sorted(names),
                "services": services,
                "fingerprints": fingerprints,
            },
        )
    ).all()
    if not found:
        return None
    number = max(row.number for row in found)
    best = [row for row in found if row.number == number]
    named = next((row for row in best if row.fingerprint is None), None)
    same_alert = next((row for row in best if row.fingerprint is not None), None)
    return Match(
        best[0].id,
        number,
        alertname=(named or best[0]).name,
        service=next(s for s in services if s in named.services) if named else None,
        fingerprint=same_alert.fingerprint if same_alert else None,
    )


@cache
def _lookups(dialect: str, by_name: bool, by_fingerprint: bool) -> CompoundSelect[Any]:
    """The newest candidate of each kind of match, in one statement built once per shape.

    Bound at execution: `number` and `since` (earlier, within the look-back), `names`
    and `services` (same alert name on a shared service), `fingerprints` (same alert).
    """
    earlier = (col(Incident.number) < bindparam("number")) & (
        col(Incident.started_at) >= bindparam("since", type_=UTCDateTime())
    )
    candidate = (col(Incident.id), col(Incident.number), col(Incident.services))
    no_fingerprint = cast(null(), String).label("fingerprint")
    names: BindParameter[str] = bindparam("names", expanding=True)
    lookups = []
    if by_name:
        shares = incident_service.lists_any_service(dialect)
        label = _alertname_label()
        lookups += [
            select(*candidate, col(Alert.alertname).label("name"), no_fingerprint)
            .join(Alert, col(Alert.incident_id) == col(Incident.id))
            .where(earlier, shares, col(Alert.alertname).in_(names)),
            select(*candidate, label.label("name"), no_fingerprint).where(
                earlier, shares, label.in_(names)
            ),
        ]
    if by_fingerprint:
        lookups.append(
            select(*candidate, col(Alert.alertname).label("name"), col(Alert.fingerprint))
            .join(Alert, col(Alert.incident_id) == col(Incident.id))
            .where(earlier, col(Alert.fingerprint).in_(bindparam("fingerprints", expanding=True)))
        )
    newest = newest_match_first()
    return union_all(*(select(q.order_by(newest).limit(1).subquery()) for q in lookups))


async def link_recurrence(
    session: AsyncSession,
    incident: Incident,
    *,
    alerts: Sequence[tuple[str, str | None]] = (),
    lookback_days: int,
    actor: str,
) -> Match | None:
    """Link `incident` (with its `alerts`, see `find_earlier`) to the earlier incident it
    repeats, unless it is already linked."""
    if incident.recurrence_of is not None:
        return None
    match = await find_earlier(session, incident, alerts=alerts, lookback_days=lookback_days)
    if match is None:
        return None
    incident.recurrence_of = match.earlier_id
    incident.version += 1
    incident.updated_at = utcnow()
    timeline_service.record(
        session,
        incident,
        EntryKind.INCIDENT_UPDATED,
        f"Recurrence of {match.reference} ({match.reason})",
        author=actor,
        data={
            "recurrence_of": str(match.earlier_id),
            "reference": match.reference,
            "alertname": match.alertname,
            "service": match.service,
            "fingerprint": match.fingerprint,
        },
    )
    change = {"recurrence_of": {"from": None, "to": str(match.earlier_id)}}
    emit(
        session,
        EventType.INCIDENT_UPDATED,
        {"incident": IncidentOut.of(incident).model_dump(mode="json"), "changes": change},
        incident_id=incident.id,
    )
    return match


def brief(incident: Incident) -> IncidentBrief:
    return IncidentBrief(
        id=incident.id,
        reference=incident.reference,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        services=incident.services,
        started_at=incident.started_at,
        mitigated_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
    )


def reached(item: ActionItemOut, service: str) -> bool | None:
    """Did the measure reach `service`: done → true, listed otherwise → false, unlisted → null."""
    for rollout in item.rollout:
        if rollout.service == service:
            return rollout.status == RolloutStatus.DONE
    return None


async def recurrence_view(session: AsyncSession, incident: Incident) -> RecurrenceOut:
    earlier = (
        await session.get(Incident, incident.recurrence_of) if incident.recurrence_of else None
    )
    items = await actions.all_for_incident(session, earlier) if earlier else []
    return RecurrenceOut(
        incident=brief(incident),
        recurrence_of=brief(earlier) if earlier else None,
        action_items=[
            RecurrenceActionItem(
                **item.model_dump(), reached={s: reached(item, s) for s in incident.services}
            )
            for item in items
        ],
    )


def _alertname_label() -> ColumnElement[str]:
    """`labels ->> 'alertname'`, spelled exactly as its expression index is (both databases)."""
    label: ColumnElement[str] = col(Incident.labels).op("->>", return_type=String())(
        literal_column("'alertname'")
    )
    return label
