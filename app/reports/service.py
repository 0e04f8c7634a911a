"""Figures over many incidents and deploys: counts, times to respond, change failures.

Counts are grouped in SQL; durations and their percentiles too on PostgreSQL, exactly
(to the microsecond), and from the two timestamps of each incident on SQLite (see
`app.core.aggregates.durations`). No incident is loaded as an object. The window is at
most `MAX_WINDOW` long. Definitions: see `app.reports.measures`.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ColumnElement, Executable, Select, func, true, type_coerce
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.action_items.models import UNFINISHED, ActionItem
from app.core.aggregates import Durations, durations, nearest_rank
from app.core.clock import utcnow
from app.core.db import after_commit
from app.core.errors import FieldProblem, InvalidInput
from app.core.sql import backend_of, json_list_contains, json_list_elements
from app.deploys.models import Deploy, DeployKind, DeployStatus
from app.engagement.models import Engagement
from app.incidents.models import Incident
from app.incidents.state import NOT_MEASURED, OPEN, DeclineReason, Severity, Status
from app.participants.models import Role
from app.reports import measures, metrics
from app.reports.schemas import (
    ActionItemFigures,
    DeclinedFigures,
    RecoveryStat,
    ServiceFigures,
    Share,
    SreEngagement,
    Stat,
    SummaryOut,
    Window,
)
from app.timeline.models import TimelineEntry

DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=400)
ENGAGED_WITHIN = (5, 15)  # minutes


@dataclass(frozen=True)
class ReportFilters:
    start: datetime | None = None
    end: datetime | None = None
    service: str | None = None
    severities: list[Severity] = field(default_factory=list)
    environment: str | None = None

    def window(self) -> tuple[datetime, datetime]:
        end = self.end or (self.start + DEFAULT_WINDOW if self.start else utcnow())
        start = self.start or end - DEFAULT_WINDOW
        if start >= end:
            raise InvalidInput(
                "`from` must be before `to`",
                errors=[FieldProblem(field="query.from", message="not before `to`", type="range")],
            )
        if end - start > MAX_WINDOW:
            limit = f"at most {MAX_WINDOW.days} days"
            raise InvalidInput(
                f"The report window is {limit} long: narrow `from` and `to`",
                errors=[FieldProblem(field="query.from", message=limit, type="range")],
            )
        return start, end


def services_of_incident(session: AsyncSession) -> TableValuedAlias:
    """A table-valued function over `incidents.services`, one row per service."""
    return json_list_elements(col(Incident.services), backend_of(session))


def incident_scope(session: AsyncSession, filters: ReportFilters) -> list[ColumnElement[bool]]:
    start, end = filters.window()
    conditions = [col(Incident.started_at) >= start, col(Incident.started_at) < end]
    if filters.severities:
        conditions.append(col(Incident.severity).in_(filters.severities))
    if filters.service is not None:
        services = col(Incident.services)
        conditions.append(json_list_contains(services, filters.service, backend_of(session)))
    return conditions


async def _grouped(session: AsyncSession, statement: Executable) -> dict[str, int]:
    rows = (await session.execute(statement)).all()
    return {str(key): int(count) for key, count in rows}


def stat(values: Sequence[float]) -> Stat:
    return Stat(
        count=len(values),
        median_seconds=nearest_rank(values, 50),
        p90_seconds=nearest_rank(values, 90),
    )


def stat_of(figures: Durations) -> Stat:
    return Stat(
        count=figures.count,
        median_seconds=figures.percentiles[50],
        p90_seconds=figures.percentiles[90],
    )


def _durations(values: Iterable[float | None]) -> list[float]:
    return [value for value in values if value is not None]


def sre_engagements(
    incident_ids: SelectOfScalar[uuid.UUID] | Sequence[uuid.UUID],
) -> Select[uuid.UUID, datetime]:
    """(incident id, when SRE first engaged on it; see `measures`)."""
    role = type_coerce(col(TimelineEntry.data), JSON)["role"].as_string()
    return (
        select_columns(
            col(TimelineEntry.incident_id).label("incident_id"),
            func.min(col(TimelineEntry.occurred_at)).label("engaged_at"),
        )
        .where(
            col(TimelineEntry.incident_id).in_(incident_ids),
            col(TimelineEntry.kind).in_(measures.ROLE_KINDS),
            role == Role.SRE,
        )
        .group_by(col(TimelineEntry.incident_id))
    )


async def note_sre_role(session: AsyncSession, incident: Incident) -> None:
    """Called when someone takes the `sre` role: the first one feeds the histogram.

    Observed once the transaction commits: a join that rolls back is not counted.
    """
    role = type_coerce(col(TimelineEntry.data), JSON)["role"].as_string()
    held = await session.scalar(
        select(func.count())
        .select_from(TimelineEntry)
        .where(
            col(TimelineEntry.incident_id) == incident.id,
            col(TimelineEntry.kind).in_(measures.ROLE_KINDS),
            role == Role.SRE,
        )
    )
    if held == 1:
        elapsed = max((utcnow() - incident.started_at).total_seconds(), 0.0)
        after_commit(session, lambda: metrics.SRE_ENGAGEMENT.observe(elapsed))


async def open_incident_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Open incidents by (severity, status), in one grouped query."""
    rows = await session.execute(
        select(col(Incident.severity), col(Incident.status), func.count())
        .where(col(Incident.status).in_(OPEN))
        .group_by(col(Incident.severity), col(Incident.status))
    )
    return {(str(sev), str(status)): int(n) for sev, status, n in rows}


async def _service_figures(
    session: AsyncSession, filters: ReportFilters, incidents_by_service: dict[str, int]
) -> list[ServiceFigures]:
    start, end = filters.window()
    in_window = [col(Deploy.effective_at) >= start, col(Deploy.effective_at) < end]
    if filters.environment is not None:
        in_window.append(col(Deploy.environment) == filters.environment)
    if filters.service is not None:
        in_window.append(col(Deploy.service) == filters.service)
    deploys = await _grouped(
        session,
        select(col(Deploy.service), func.count()).where(*in_window).group_by(col(Deploy.service)),
    )
    causes = select(col(Incident.caused_by_deploy_id)).where(
        col(Incident.caused_by_deploy_id).is_not(None)
    )
    if filters.severities:
        causes = causes.where(col(Incident.severity).in_(filters.severities))
    failures = await _grouped(
        session,
        select(col(Deploy.service), func.count())
        .where(*in_window, col(Deploy.id).in_(causes))
        .group_by(col(Deploy.service)),
    )
    later = aliased(Deploy)
    next_success = (
        select(func.min(col(later.effective_at)))
        .where(
            col(later.service) == col(Deploy.service),
            col(later.environment) == col(Deploy.environment),
            col(later.status) == DeployStatus.SUCCEEDED,
            col(later.effective_at) > col(Deploy.effective_at),
        )
        .scalar_subquery()
    )
    failed = await session.execute(
        select(col(Deploy.service), col(Deploy.effective_at), next_success).where(
            *in_window, col(Deploy.status).in_([DeployStatus.FAILED, DeployStatus.ROLLED_BACK])
        )
    )
    recoveries: dict[str, list[float | None]] = {}
    for service, failed_at, recovered_at in failed:
        assert failed_at is not None
        recoveries.setdefault(service, []).append(measures.seconds(failed_at, recovered_at))
    names = (
        [filters.service]
        if filters.service is not None
        else sorted(set(deploys) | set(incidents_by_service))
    )
    figures = []
    for name in names:
        count, failures_of = deploys.get(name, 0), failures.get(name, 0)
        times = recoveries.get(name, [])
        recovered = _durations(times)
        figures.append(
            ServiceFigures(
                service=name,
                incidents=incidents_by_service.get(name, 0),
                deploys=count,
                change_failures=failures_of,
                change_failure_rate=failures_of / count if count else None,
                failed_deploy_recovery=RecoveryStat(
                    **stat(recovered).model_dump(), unrecovered=len(times) - len(recovered)
                ),
            )
        )
    return figures


def _lead_times(filters: ReportFilters) -> Select[datetime | None, datetime | None]:
    """(committed, deployed) of the succeeded deploys of the window that name their commit
    time: DORA's lead time for changes."""
    start, end = filters.window()
    deployed = col(Deploy.effective_at)
    conditions = [
        deployed >= start,
        deployed < end,
        col(Deploy.status) == DeployStatus.SUCCEEDED,
        col(Deploy.kind) != DeployKind.ROLLBACK,
        col(Deploy.committed_at).is_not(None),
    ]
    if filters.environment is not None:
        conditions.append(col(Deploy.environment) == filters.environment)
    if filters.service is not None:
        conditions.append(col(Deploy.service) == filters.service)
    return select_columns(col(Deploy.committed_at), deployed).where(*conditions)


async def summary(session: AsyncSession, filters: ReportFilters) -> SummaryOut:
    start, end = filters.window()
    scope = incident_scope(session, filters)
    by_severity = await _grouped(
        session,
        select(col(Incident.severity), func.count()).where(*scope).group_by(col(Incident.severity)),
    )
    by_status = await _grouped(
        session,
        select(col(Incident.status), func.count()).where(*scope).group_by(col(Incident.status)),
    )
    services = services_of_incident(session)
    service_name = services.c.value
    by_service = await _grouped(
        session,
        select(service_name, func.count())
        .select_from(Incident)
        .join(services, true())
        .where(*scope)
        .group_by(service_name),
    )
    total = sum(by_severity.values())
    # Declined incidents were false alarms (counted apart, `declined`) and merged ones
    # are timed as the incident they were merged into: neither is timed on its own.
    timed = [*scope, col(Incident.status).not_in(NOT_MEASURED)]
    measured = total - sum(by_status.get(status, 0) for status in NOT_MEASURED)
    declined = await _grouped(
        session,
        select(col(Incident.decline_reason), func.count())
        .where(*scope, col(Incident.status) == Status.DECLINED)
        .group_by(col(Incident.decline_reason)),
    )
    started = col(Incident.started_at)

    async def time_to(end: Any) -> Durations:
        return await durations(session, select_columns(started, end).where(*timed))

    engaged = sre_engagements(select(col(Incident.id)).where(*timed)).subquery()
    to_sre = await durations(
        session,
        select_columns(started, engaged.c.engaged_at)
        .join(engaged, engaged.c.incident_id == col(Incident.id))
        .where(*timed),
        within=[minutes * 60 for minutes in ENGAGED_WITHIN],
    )
    shares = {}
    for minutes in ENGAGED_WITHIN:
        within = to_sre.within[minutes * 60]
        shares[f"within_{minutes}_min"] = Share(
            count=within, share=within / measured if measured else None
        )
    in_scope = select(col(Incident.id)).where(*scope)
    items = col(ActionItem.incident_id).in_(in_scope)
    unfinished = col(ActionItem.status).in_(UNFINISHED)
    today = utcnow().date()

    async def count(*conditions: ColumnElement[bool]) -> int:
        found = await session.scalar(
            select(func.count()).select_from(ActionItem).where(items, *conditions)
        )
        return int(found or 0)

    lead_time = await durations(session, _lead_times(filters))
    recurrences = await session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(*scope, col(Incident.recurrence_of).is_not(None))
    )
    escalations, not_engaged = await _escalations(session, timed)
    return SummaryOut(
        window=Window(start=start, end=end),
        service=filters.service,
        severity=filters.severities,
        environment=filters.environment,
        incidents=total,
        by_severity={s.value: by_severity.get(s.value, 0) for s in Severity},
        by_status={s.value: by_status.get(s.value, 0) for s in Status},
        by_service=dict(sorted(by_service.items())),
        time_to_acknowledge=stat_of(await time_to(measures.acknowledged_at_sql())),
        time_to_sre_engagement=stat_of(to_sre),
        time_to_mitigate=stat_of(await time_to(measures.mitigated_at_sql())),
        time_to_resolve=stat_of(await time_to(col(Incident.resolved_at))),
        lead_time_for_changes=stat_of(lead_time),
        sre_engaged=SreEngagement(**shares),
        services=await _service_figures(session, filters, by_service),
        action_items=ActionItemFigures(
            total=await count(),
            open=await count(unfinished),
            overdue=await count(unfinished, col(ActionItem.due) < today),
        ),
        recurrences=int(recurrences or 0),
        declined=DeclinedFigures(
            total=by_status.get(Status.DECLINED, 0),
            by_reason={reason.value: declined.get(reason.value, 0) for reason in DeclineReason},
        ),
        escalations=escalations,
        not_engaged_within_policy=not_engaged,
    )


async def _escalations(
    session: AsyncSession, scope: list[ColumnElement[bool]]
) -> tuple[dict[str, int], int]:
    """(incidents that reached each escalation level, escalated incidents where no SRE
    joined before the last level: after it, or never)."""
    rows = await session.execute(
        select_columns(
            col(Engagement.level), col(Engagement.schedule), col(Engagement.sre_engaged_at)
        )
        .join(Incident, col(Incident.id) == col(Engagement.incident_id))
        .where(*scope, col(Engagement.level).is_not(None))
    )
    reached: dict[str, int] = {}
    not_engaged = 0
    for level, schedule, sre_engaged_at in rows.all():
        assert level is not None
        for fired in range(level + 1):
            reached[str(fired)] = reached.get(str(fired), 0) + 1
        if sre_engaged_at is None or level == len(schedule) - 1:
            not_engaged += 1
    return dict(sorted(reached.items(), key=lambda item: int(item[0]))), not_engaged
