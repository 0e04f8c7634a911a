"""An Alertmanager notification turned into incidents, in one transaction.

Rules, per notification:
- an identical notification (retry, HA twin, repeat) is recorded once and changes nothing;
- a firing alert already on an open incident updates it;
- other alerts of a group with an open incident join that incident (a group whose
  incident was merged has the open survivor as its incident);
- otherwise a new incident opens (`flows.incidents.open_incident`), linked to the
  group's previous incident if any;
- resolved alerts are marked and put on the timeline; when every alert of an incident
  Alertmanager opened is resolved, the incident moves to `mitigated`.
Concurrent notifications for one group are serialised by a transaction-scoped advisory
lock on PostgreSQL, and a partial unique index allows one open incident per group.
"""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import service as alert_rules
from app.alerts.models import Alert, AlertStatus
from app.alerts.service import ACTOR, SOURCE, IncomingAlert, Notification, Outcome
from app.catalog import service as catalog_service
from app.checklists.template import ChecklistTemplate
from app.core.clock import utcnow
from app.core.settings import Settings
from app.core.sql import backend_of
from app.engagement.policy import EscalationPolicy
from app.flows import incidents as incident_flows
from app.incidents import recurrence
from app.incidents.models import Incident
from app.incidents.schemas import IncidentUpdate
from app.incidents.state import Severity, Status
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind


class _Ingest:
    """The work on one notification; holds what it has loaded and touched."""

    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        template: ChecklistTemplate,
        policy: EscalationPolicy,
    ) -> None:
        self.session, self.settings, self.template = session, settings, template
        self.policy = policy
        self.outcome = Outcome()
        self.refired: set[uuid.UUID] = set()
        self.firing: set[uuid.UUID] = set()  # incidents this notification has a firing alert on
        self.touched: dict[uuid.UUID, Incident] = {}
        self.repeats: recurrence.Match | None = None  # what the opened incident repeats

    async def run(self, notification: Notification, group: str) -> Outcome:
        fingerprints = [a.fingerprint for a in notification.alerts]
        touched = alert_rules.open_touched(backend_of(self.session))
        found = await self.session.execute(touched, {"fingerprints": fingerprints, "group": group})
        known: dict[str, tuple[Alert, Incident]] = {}
        group_incident = routed_incident = None
        for incident, alert, routed_to in found.all():
            if alert is not None:
                known[alert.fingerprint] = (alert, incident)
            if incident.alert_group == group:
                group_incident = incident
            elif incident.id == routed_to:
                routed_incident = incident
        # A group whose incident was merged lands on the survivor, unless the group has
        # opened an incident of its own since.
        group_incident = group_incident or routed_incident
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
        fields = alert_rules.incident_fields(notification, firing, self.settings)
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
        incident = await incident_flows.open_incident(
            self.session,
            fields,
            template=self.template,
            policy=self.policy,
            actor=ACTOR,
            lookback_days=None,  # linked below, once the alerts are attached
            update_cadence=self.settings.update_cadence,
            source=SOURCE,
            alert_group=group,
            recurrence_of=self.repeats if self.repeats and self.repeats.previous else None,
        )
        self.outcome.opened.append(incident)
        return incident

    def _attach(self, incident: Incident, incoming: IncomingAlert) -> None:
        alert_rules.attach(self.session, incident, incoming)
        links = catalog_service.annotation_links(incoming.annotations, incoming.name)
        catalog_service.add_links(self.session, incident, links)
        self._entry(incident, incoming)
        if incoming.status == AlertStatus.FIRING:
            self.refired.add(incident.id)
            self.firing.add(incident.id)

    async def _update(self, alert: Alert, incident: Incident, incoming: IncomingAlert) -> None:
        was = alert_rules.update(alert, incoming)
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
        severity = alert_rules.severity_of(mine, self.settings) if mine else None
        services = [
            s for s in alert_rules.services_of(mine, self.settings) if s not in incident.services
        ]
        changes = IncidentUpdate()
        if (
            severity
            and alert_rules.SEVERITY_RANK[severity]
            < alert_rules.SEVERITY_RANK[Severity(incident.severity)]
        ):
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
            and not await alert_rules.firing_count(self.session, incident)
        ):
            changes.status = Status.MITIGATED
        if changes.model_fields_set:
            await incident_flows.update_incident(
                self.session, incident, changes, policy=self.policy, actor=ACTOR
            )


async def ingest(
    session: AsyncSession,
    notification: Notification,
    *,
    settings: Settings,
    template: ChecklistTemplate,
    policy: EscalationPolicy,
) -> Outcome:
    group = alert_rules.group_of(notification.group_key)
    if not await alert_rules.claim(session, notification, group):
        return Outcome(duplicate=True)
    return await _Ingest(session, settings, template, policy).run(notification, group)
