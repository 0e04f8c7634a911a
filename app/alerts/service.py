"""Alertmanager notifications turned into incidents: grouped, deduplicated, mitigated.

Rules, per notification (one transaction):
- an identical notification (retry, HA twin, repeat) is recorded once and changes nothing;
- a firing alert already on an open incident updates it;
- other alerts of a group with an open incident join that incident;
- otherwise a new incident opens, linked to the group's previous incident if any;
- resolved alerts are marked and put on the timeline; when every alert of an incident
  Alertmanager opened is resolved, the incident moves to `mitigated`.
Concurrent notifications for one group are serialised by a transaction-scoped advisory
lock on PostgreSQL, and a partial unique index allows one open incident per group.
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property

from sqlalchemy import Select, bindparam, func, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.alerts.models import Alert, AlertNotification, AlertStatus
from app.checklists.template import ChecklistTemplate
from app.core.clock import utcnow
from app.core.db import UTCDateTime, add_row, in_bound, insert_ignoring_conflict, table_of
from app.core.pagination import PageParams, Rows, paginate
from app.core.settings import Settings
from app.incidents import service as incident_service
from app.incidents.models import Incident
from app.incidents.schemas import IncidentCreate, IncidentUpdate
from app.incidents.state import OPEN, Severity, Status
from app.postmortems import recurrence
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

ACTOR = "alertmanager"
SOURCE = "alertmanager"
_SEVERITY_RANK = {s: n for n, s in enumerate(Severity)}  # sev1 is the most severe
_ALERTS = table_of(Alert)


@dataclass(frozen=True)
class IncomingAlert:
    fingerprint: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str | None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")

    @property
    def label(self) -> str:
        where = self.labels.get("instance") or self.fingerprint
        return f"{self.name} ({where})"


@dataclass(frozen=True)
class Notification:
    group_key: str
    status: str
    alerts: Sequence[IncomingAlert]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]

    @cached_property
    def digest(self) -> str:
        """What makes a notification distinct: retries and HA twins share it."""
        alerts = sorted(
            (
                a.fingerprint,
                a.status,
                a.starts_at.isoformat(),
                a.ends_at.isoformat() if a.ends_at else "",
            )
            for a in self.alerts
        )
        raw = json.dumps([self.group_key, self.status, alerts])
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Outcome:
    duplicate: bool = False
    opened: list[Incident] = field(default_factory=list)
    updated: list[Incident] = field(default_factory=list)


def _group(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


# PostgreSQL: the notification is claimed under its group's lock, in one statement.
# The transaction's statements are also planned afresh on every execution: a plan
# cached while `alerts` was small (a new install's first storm) would scan the whole
# table until autovacuum next analyzed it.
_CLAIM_LOCKED = text(
    """
    INSERT INTO alert_notifications (id, digest, group_key, status, alert_count, received_at)
    SELECT :id, :digest, :group_key, :status, :alert_count, :received_at
    FROM (SELECT pg_advisory_xact_lock(:lock),
                 set_config('plan_cache_mode', 'force_custom_plan', true)) AS locked
    ON CONFLICT (digest) DO NOTHING
    RETURNING id
    """
).bindparams(bindparam("received_at", type_=UTCDateTime()))


async def _claim(session: AsyncSession, notification: Notification, group: str) -> bool:
    """Record the notification; False when it already was (a retry, repeat or twin).

    Concurrent notifications of one group are serialised: on PostgreSQL by a
    transaction-scoped advisory lock on the group, on SQLite by its single writer.
    """
    row = {
        "id": uuid.uuid4(),
        "digest": notification.digest,
        "group_key": notification.group_key,
        "status": notification.status,
        "alert_count": len(notification.alerts),
        "received_at": utcnow(),
    }
    if session.get_bind().dialect.name != "postgresql":
        return await insert_ignoring_conflict(
            session, AlertNotification, row, conflict_on=["digest"]
        )
    lock = int.from_bytes(bytes.fromhex(group[:16]), "big", signed=True)
    claimed = await session.execute(_CLAIM_LOCKED, row | {"lock": lock})
    return claimed.first() is not None


def severity_of(alerts: Sequence[IncomingAlert], settings: Settings) -> Severity:
    mapped = [
        Severity(settings.severity_map.get(a.labels.get("severity", "").lower(), Severity.SEV3))
        for a in alerts
    ]
    return min(mapped, key=_SEVERITY_RANK.__getitem__, default=Severity.SEV3)


def services_of(alerts: Sequence[IncomingAlert], settings: Settings) -> list[str]:
    found: list[str] = []
    for alert in alerts:
        values = (alert.labels.get(k, "").strip()[:100] for k in settings.service_labels)
        value = next((v for v in values if v), None)
        if value and value not in found:
            found.append(value)
    return found[:50]


def _incident_fields(
    notification: Notification, firing: list[IncomingAlert], settings: Settings
) -> IncidentCreate:
    first = firing[0]
    title = (
        notification.common_annotations.get("summary")
        or first.annotations.get("summary")
        or notification.common_labels.get("alertname")
        or first.name
    ).strip() or "Alert"
    summary = notification.common_annotations.get("description") or first.annotations.get(
        "description"
    )
    labels = {k[:100]: v[:500] for k, v in list(notification.common_labels.items())[:64] if k}
    return IncidentCreate(
        title=title[:300],
        summary=summary,
        severity=severity_of(firing, settings),
        services=services_of(firing, settings),
        labels=labels,
        started_at=min(min(a.starts_at for a in firing), utcnow()),
    )


@cache
def _open_touched(dialect: str) -> Select[Incident, Alert]:
    """In one round trip, the open incidents a notification touches, locked: those
    holding alerts of its fingerprints, each with those alerts, and its group's own
    (with none of them, its alert is NULL). Two indexed look-ups pick the incidents.
    Built once; `fingerprints` and `group` are bound at execution.
    """
    ids = union_all(
        select(col(Alert.incident_id)).where(
            in_bound(col(Alert.fingerprint), "fingerprints", dialect)
        ),
        select(col(Incident.id)).where(col(Incident.alert_group) == bindparam("group")),
    )
    return (
        select(Incident, Alert)
        .outerjoin(
            Alert,
            (col(Alert.incident_id) == col(Incident.id))
            & in_bound(col(Alert.fingerprint), "fingerprints", dialect),
        )
        .where(col(Incident.id).in_(ids), col(Incident.status).in_(OPEN))
        .with_for_update(of=Incident)
    )


class _Ingest:
    """The work on one notification; holds what it has loaded and touched."""

    def __init__(
        self, session: AsyncSession, settings: Settings, template: ChecklistTemplate
    ) -> None:
        self.session, self.settings, self.template = session, settings, template
        self.outcome = Outcome()
        self.refired: set[uuid.UUID] = set()
        self.firing: set[uuid.UUID] = set()  # incidents this notification has a firing alert on
        self.touched: dict[uuid.UUID, Incident] = {}
        self.repeats: recurrence.Match | None = None  # what the opened incident repeats

    async def run(self, notification: Notification, group: str) -> Outcome:
        fingerprints = [a.fingerprint for a in notification.alerts]
        touched = _open_touched(self.session.get_bind().dialect.name)
        found = await self.session.execute(touched, {"fingerprints": fingerprints, "group": group})
        known: dict[str, tuple[Alert, Incident]] = {}
        group_incident = None
        for incident, alert in found.all():
            if alert is not None:
                known[alert.fingerprint] = (alert, incident)
            if incident.alert_group == group:
                group_incident = incident
        new = [a for a in notification.alerts if a.fingerprint not in known]
        firing_new = [a for a in new if a.status == AlertStatus.FIRING]
        if firing_new and group_incident is None:
            group_incident = await self._open(notification, group, firing_new, new)
        for incoming in notification.alerts:
            if incoming.fingerprint in known:
                alert, incident = known[incoming.fingerprint]
                await self._update(alert, incident, incoming)
            elif group_incident is not None:
                self._attach(group_incident, incoming)
        for opened in self.outcome.opened:  # now that its alerts are attached
            if self.repeats is not None and not self.repeats.previous:
                recurrence.link(self.session, opened, self.repeats, actor=ACTOR)
        for incident in self.touched.values():
            await self._settle(incident, notification.alerts)
        self.outcome.updated = [i for i in self.touched.values() if i not in self.outcome.opened]
        return self.outcome

    async def _open(
        self,
        notification: Notification,
        group: str,
        firing: list[IncomingAlert],
        new: list[IncomingAlert],
    ) -> Incident:
        """Open an incident for the `firing` ones of the `new` alerts (on no open incident)."""
        fields = _incident_fields(notification, firing, self.settings)
        self.repeats = await recurrence.find_earlier(
            self.session,
            number=None,
            started_at=fields.started_at or utcnow(),
            services=fields.services,
            labels=fields.labels,
            alerts=[(a.fingerprint, a.labels.get("alertname")) for a in new],
            lookback_days=self.settings.recurrence_lookback_days,
            group=group,
            firing=[a.fingerprint for a in firing],
        )
        incident = await incident_service.create_incident(
            self.session,
            fields,
            template=self.template,
            actor=ACTOR,
            source=SOURCE,
            alert_group=group,
            recurrence_of=self.repeats if self.repeats and self.repeats.previous else None,
        )
        self.outcome.opened.append(incident)
        return incident

    def _attach(self, incident: Incident, incoming: IncomingAlert) -> None:
        now = utcnow()
        add_row(  # written with the rest of the notification, batched
            self.session,
            _ALERTS,
            {
                "id": uuid.uuid4(),
                "incident_id": incident.id,
                "fingerprint": incoming.fingerprint,
                "alertname": incoming.labels.get("alertname"),
                "status": incoming.status,
                "labels": incoming.labels,
                "annotations": incoming.annotations,
                "starts_at": incoming.starts_at,
                "ends_at": incoming.ends_at,
                "generator_url": incoming.generator_url,
                "first_received_at": now,
                "last_received_at": now,
                "received_count": 1,
            },
        )
        self._entry(incident, incoming)
        if incoming.status == AlertStatus.FIRING:
            self.refired.add(incident.id)
            self.firing.add(incident.id)

    async def _update(self, alert: Alert, incident: Incident, incoming: IncomingAlert) -> None:
        was = alert.status
        alert.status, alert.labels, alert.annotations = (
            incoming.status,
            incoming.labels,
            incoming.annotations,
        )
        alert.last_received_at, alert.received_count = utcnow(), alert.received_count + 1
        alert.starts_at, alert.ends_at = incoming.starts_at, incoming.ends_at
        self.touched[incident.id] = incident
        if incoming.status == AlertStatus.FIRING:
            self.firing.add(incident.id)
        if was != incoming.status:
            self._entry(incident, incoming)
            if incoming.status == AlertStatus.FIRING:
                self.refired.add(incident.id)

    def _entry(self, incident: Incident, incoming: IncomingAlert) -> None:
        self.touched[incident.id] = incident
        firing = incoming.status == AlertStatus.FIRING
        timeline_service.record(
            self.session,
            incident,
            EntryKind.ALERT_FIRING if firing else EntryKind.ALERT_RESOLVED,
            f"Alert {'firing' if firing else 'resolved'}: {incoming.label}",
            author=ACTOR,
            occurred_at=incoming.starts_at if firing else incoming.ends_at,
            data={
                "fingerprint": incoming.fingerprint,
                "labels": incoming.labels,
                "summary": incoming.annotations.get("summary"),
                "generator_url": incoming.generator_url,
            },
        )

    async def _settle(self, incident: Incident, alerts: Sequence[IncomingAlert]) -> None:
        """Raise severity, add services, reopen on re-firing, mitigate when all resolved."""
        mine = [a for a in alerts if a.status == AlertStatus.FIRING]
        severity = severity_of(mine, self.settings) if mine else None
        services = [s for s in services_of(mine, self.settings) if s not in incident.services]
        changes = IncidentUpdate()
        if severity and _SEVERITY_RANK[severity] < _SEVERITY_RANK[Severity(incident.severity)]:
            changes.severity = severity
        if services:
            changes.services = [*incident.services, *services][:50]
        status = Status(incident.status)
        if incident.id in self.refired and status == Status.MITIGATED:
            changes.status = Status.INVESTIGATING
        elif (
            incident.source == SOURCE
            and self.settings.alertmanager_auto_mitigate
            and status in {Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING}
            and incident.id not in self.firing
            and not await _firing_count(self.session, incident)
        ):
            changes.status = Status.MITIGATED
        if changes.model_fields_set:
            await incident_service.update_incident(self.session, incident, changes, actor=ACTOR)


async def _firing_count(session: AsyncSession, incident: Incident) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(col(Alert.incident_id) == incident.id, col(Alert.status) == AlertStatus.FIRING)
        )
        or 0
    )


async def ingest(
    session: AsyncSession,
    notification: Notification,
    *,
    settings: Settings,
    template: ChecklistTemplate,
) -> Outcome:
    group = _group(notification.group_key)
    if not await _claim(session, notification, group):
        return Outcome(duplicate=True)
    return await _Ingest(session, settings, template).run(notification, group)


async def list_alerts(session: AsyncSession, incident: Incident, page: PageParams) -> Rows[Alert]:
    statement = select(Alert).where(col(Alert.incident_id) == incident.id)
    return await paginate(
        session, statement, page, col(Alert.first_received_at), col(Alert.id), descending=False
    )
