"""Alertmanager notifications: their rules, and the alerts table.

How a notification turns into incidents is the story of `app.flows.alerts`.

Rules, per notification (one transaction):
- an identical notification (retry, HA twin, repeat) is recorded once and changes nothing;
- a firing alert already on an open incident updates it;
- other alerts of a group with an open incident join that incident (a group whose
  incident was merged has the open survivor as its incident);
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

from sqlalchemy import Select, bindparam, delete, func, insert, union_all
from sqlalchemy import update as update_rows
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.alerts.models import Alert, AlertNotification, AlertStatus, MergedAlertGroup
from app.core.clock import utcnow
from app.core.db import add_row, table_of
from app.core.pagination import PageParams, Rows, paginate
from app.core.settings import Settings
from app.core.sql import Backend, in_bound, insert_once_serialised
from app.incidents.models import Incident
from app.incidents.schemas import IncidentCreate
from app.incidents.state import OPEN, Severity

ACTOR = "alertmanager"
SOURCE = "alertmanager"
SEVERITY_RANK = {s: n for n, s in enumerate(Severity)}  # sev1 is the most severe
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


def group_of(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


async def claim(session: AsyncSession, notification: Notification, group: str) -> bool:
    """Record the notification; False when it already was (a retry, repeat or twin).

    Concurrent notifications of one group are serialised (`insert_once_serialised`,
    locked on the group); the statements after it are planned for their values: a plan
    cached while `alerts` was small (a new install's first storm) would scan it later.
    """
    row = {
        "id": uuid.uuid4(),
        "digest": notification.digest,
        "group_key": notification.group_key,
        "status": notification.status,
        "alert_count": len(notification.alerts),
        "received_at": utcnow(),
    }
    lock = int.from_bytes(bytes.fromhex(group[:16]), "big", signed=True)
    return await insert_once_serialised(
        session, AlertNotification, row, conflict_on=["digest"], lock=lock
    )


def severity_of(alerts: Sequence[IncomingAlert], settings: Settings) -> Severity:
    mapped = [
        Severity(settings.severity_map.get(a.labels.get("severity", "").lower(), Severity.SEV3))
        for a in alerts
    ]
    return min(mapped, key=SEVERITY_RANK.__getitem__, default=Severity.SEV3)


def services_of(alerts: Sequence[IncomingAlert], settings: Settings) -> list[str]:
    found: list[str] = []
    for alert in alerts:
        values = (alert.labels.get(k, "").strip()[:100] for k in settings.service_labels)
        value = next((v for v in values if v), None)
        if value and value not in found:
            found.append(value)
    return found[:50]


def incident_fields(
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
def open_touched(backend: Backend) -> Select[Incident, Alert, uuid.UUID | None]:
    """In one round trip, the open incidents a notification touches, locked: those
    holding alerts of its fingerprints, each with those alerts, its group's own (with
    none of them, its alert is NULL) and the incident its group was merged into, also
    named on every row (`routed_to`). Indexed look-ups pick the incidents.
    Built once; `fingerprints` and `group` are bound at execution.
    """
    routed = select(col(MergedAlertGroup.incident_id)).where(
        col(MergedAlertGroup.alert_group) == bindparam("group")
    )
    ids = union_all(
        select(col(Alert.incident_id)).where(
            in_bound(col(Alert.fingerprint), "fingerprints", backend)
        ),
        select(col(Incident.id)).where(col(Incident.alert_group) == bindparam("group")),
        routed,
    )
    return (
        select(Incident, Alert, routed.scalar_subquery().label("routed_to"))
        .outerjoin(
            Alert,
            (col(Alert.incident_id) == col(Incident.id))
            & in_bound(col(Alert.fingerprint), "fingerprints", backend),
        )
        .where(col(Incident.id).in_(ids), col(Incident.status).in_(OPEN))
        .with_for_update(of=Incident)
    )


def attach(session: AsyncSession, incident: Incident, incoming: IncomingAlert) -> None:
    """Queue the row of a new alert on `incident` (written with the rest, batched)."""
    now = utcnow()
    add_row(
        session,
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


def update(alert: Alert, incoming: IncomingAlert) -> AlertStatus:
    """Refresh a known alert from its latest notification; returns its status before."""
    was = AlertStatus(alert.status)
    alert.status, alert.labels, alert.annotations = (
        incoming.status,
        incoming.labels,
        incoming.annotations,
    )
    alert.last_received_at, alert.received_count = utcnow(), alert.received_count + 1
    alert.starts_at, alert.ends_at = incoming.starts_at, incoming.ends_at
    return was


async def move_alerts(session: AsyncSession, merged: Incident, into: Incident) -> int:
    """Move the alerts of `merged` to `into`, and route its group there (with any group
    routed to `merged` before): that group's next notifications land on `into`.

    An alert `into` already holds (same fingerprint) stays where it was.
    """
    held = select(col(Alert.fingerprint)).where(col(Alert.incident_id) == into.id)
    moved = await session.execute(
        update_rows(Alert)
        .where(col(Alert.incident_id) == merged.id, col(Alert.fingerprint).not_in(held))
        .values(incident_id=into.id)
    )
    await session.execute(
        update_rows(MergedAlertGroup)
        .where(col(MergedAlertGroup.incident_id) == merged.id)
        .values(incident_id=into.id)
    )
    if merged.alert_group is not None:
        group = col(MergedAlertGroup.alert_group)
        await session.execute(delete(MergedAlertGroup).where(group == merged.alert_group))
        await session.execute(
            insert(MergedAlertGroup).values(
                alert_group=merged.alert_group, incident_id=into.id, merged_at=utcnow()
            )
        )
    return int(moved.rowcount)  # type: ignore[attr-defined]


async def firing_count(session: AsyncSession, incident: Incident) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(col(Alert.incident_id) == incident.id, col(Alert.status) == AlertStatus.FIRING)
        )
        or 0
    )


async def list_alerts(session: AsyncSession, incident: Incident, page: PageParams) -> Rows[Alert]:
    statement = select(Alert).where(col(Alert.incident_id) == incident.id)
    return await paginate(
        session, statement, page, col(Alert.first_received_at), col(Alert.id), descending=False
    )
