"""The organisational ledger: contributing factors by category, and signals from the record.

Everything is grouped in SQL (`app.core.aggregates` for the sums and percentiles of
durations); no incident is loaded as an object. Scope: incidents that started in the
window and were not declined; with `service`, the factors naming that service.
"""

from collections import defaultdict
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, and_, func, or_, true, type_coerce, union
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from app.action_items.models import UNFINISHED, ActionItem
from app.action_items.schemas import is_overdue
from app.contributing_factors.models import ContributingFactor
from app.contributing_factors.taxonomy import Taxonomy
from app.core.aggregates import durations, durations_by, total_seconds_by
from app.core.clock import utcnow
from app.core.sql import backend_of, json_flag, json_list_contains, json_list_elements, quarter_of
from app.incidents.models import Incident, reference_of
from app.incidents.state import Status
from app.participants.models import Role
from app.reports import measures
from app.reports.schemas import (
    CategoryFigures,
    LedgerOut,
    OpenMeasure,
    PeopleConcentration,
    PersonCount,
    ServiceCount,
    Signals,
    TimeToCause,
    Window,
)
from app.reports.service import (
    MAX_WINDOW,
    ReportFilters,
    incident_scope,
    services_of_incident,
    sre_engagements,
    stat_of,
)
from app.rollbacks.models import RollbackReview
from app.timeline.models import EntryKind, TimelineEntry

TOP_SERVICES = 5
# A person in more than this share of a service's last incidents (at least MIN_INCIDENTS)
# is a key person: the suggestion names the contributing factor.
KEY_PERSON_SHARE = 0.5
MIN_INCIDENTS = 3
KEY_PERSON = "key_person_dependency"


def _factor_scope(session: AsyncSession, filters: ReportFilters) -> list[ColumnElement[bool]]:
    """Factors (joined to their incident) in scope."""
    start, end = filters.window()
    conditions = [
        col(Incident.started_at) >= start,
        col(Incident.started_at) < end,
        col(Incident.status) != Status.DECLINED,
    ]
    if filters.service is not None:
        services = col(ContributingFactor.services)
        conditions.append(json_list_contains(services, filters.service, backend_of(session)))
    return conditions


def _factors(session: AsyncSession, filters: ReportFilters, *columns: Any) -> Select[Any]:
    return (
        select_columns(*columns)
        .select_from(ContributingFactor)
        .join(Incident, col(Incident.id) == col(ContributingFactor.incident_id))
        .where(*_factor_scope(session, filters))
    )


async def _open_measures(
    session: AsyncSession, filters: ReportFilters
) -> defaultdict[str, list[OpenMeasure]]:
    """Per category, the unfinished action items addressing a factor in scope."""
    item_incident = aliased(Incident)
    today = utcnow().date()
    found: defaultdict[str, list[OpenMeasure]] = defaultdict(list)
    rows = await session.execute(
        _factors(
            session, filters, col(ContributingFactor.category), ActionItem, item_incident.number
        )
        .join(ActionItem, col(ActionItem.addresses) == col(ContributingFactor.id))
        .join(item_incident, col(item_incident.id) == col(ActionItem.incident_id))
        .where(col(ActionItem.status).in_(UNFINISHED))
        .order_by(col(ActionItem.created_at), col(ActionItem.id))
    )
    for category, item, number in rows.all():
        found[category].append(
            OpenMeasure(
                action_item_id=str(item.id),
                title=item.title,
                kind=item.kind,
                status=item.status,
                incident_reference=reference_of(number),
                due=item.due,
                overdue=is_overdue(item, today),
            )
        )
    return found


async def _categories(
    session: AsyncSession, filters: ReportFilters, taxonomy: Taxonomy
) -> list[CategoryFigures]:
    backend = backend_of(session)
    category = col(ContributingFactor.category)
    # One row per (category, incident) cited, with the incident's impact window.
    cited = (
        _factors(
            session,
            filters,
            category.label("category"),
            col(Incident.number).label("number"),
            col(Incident.started_at).label("started_at"),
            measures.mitigated_at_sql().label("ended_at"),
        )
        .distinct()
        .subquery()
    )
    references: defaultdict[str, list[str]] = defaultdict(list)
    for key, number in await session.execute(
        select_columns(cited.c.category, cited.c.number).order_by(cited.c.number)
    ):
        references[key].append(reference_of(number))
    impact = await total_seconds_by(
        session, select_columns(cited.c.category, cited.c.started_at, cited.c.ended_at)
    )
    quarter = quarter_of(cited.c.started_at, backend)
    by_quarter: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for key, period, count in await session.execute(
        select_columns(cited.c.category, quarter, func.count())
        .group_by(cited.c.category, quarter)
        .order_by(quarter)
    ):
        by_quarter[key][str(period)] = int(count)
    services = json_list_elements(col(ContributingFactor.services), backend)
    incidents = func.count(func.distinct(col(ContributingFactor.incident_id)))
    affected: defaultdict[str, list[ServiceCount]] = defaultdict(list)
    for key, service, count in await session.execute(
        _factors(session, filters, category, services.c.value, incidents)
        .join(services, true())
        .group_by(category, services.c.value)
        .order_by(incidents.desc(), services.c.value)
    ):
        if len(affected[key]) < TOP_SERVICES:
            affected[key].append(ServiceCount(service=service, incidents=int(count)))
    open_measures = await _open_measures(session, filters)
    labels = {c.key: c.label for c in taxonomy.categories}
    keys = [*taxonomy.keys, *sorted(set(references) - set(labels))]
    figures = [
        CategoryFigures(
            category=key,
            label=labels.get(key),
            incidents=len(references[key]),
            references=references[key],
            impact_minutes=round(impact.get(key, 0.0) / 60, 1),
            by_quarter=by_quarter[key],
            services=affected[key],
            open_measures=open_measures[key],
        )
        for key in keys
    ]
    return sorted(figures, key=lambda f: (-f.incidents, -f.impact_minutes))


def _people() -> Any:
    """(incident, handle) of everyone who commanded, engaged as SRE, or reviewed or
    executed a rollback."""
    data = type_coerce(col(TimelineEntry.data), JSON)
    roles = select_columns(
        col(TimelineEntry.incident_id).label("incident_id"),
        data["handle"].as_string().label("handle"),
    ).where(
        col(TimelineEntry.kind).in_(measures.ROLE_KINDS),
        data["role"].as_string().in_([Role.COMMANDER, Role.SRE]),
    )
    reviewers = select_columns(col(RollbackReview.incident_id), col(RollbackReview.reviewer)).where(
        col(RollbackReview.reviewer).is_not(None)
    )
    executors = select_columns(
        col(RollbackReview.incident_id), col(RollbackReview.executed_by)
    ).where(col(RollbackReview.executed_by).is_not(None))
    return union(roles, reviewers, executors).subquery()


async def _people_concentration(
    session: AsyncSession, filters: ReportFilters, last: int
) -> list[PeopleConcentration]:
    """Per service of the incidents in scope: who was involved in its `last` incidents
    that started before the window's end (and at most `MAX_WINDOW` before it)."""
    _, end = filters.window()
    services = services_of_incident(session)
    in_scope = select_columns(services.c.value).select_from(Incident).join(services, true())
    in_scope = in_scope.where(*incident_scope(session, filters)).distinct()
    ranked = (
        select_columns(
            services.c.value.label("service"),
            col(Incident.id).label("incident_id"),
            func.row_number()
            .over(
                partition_by=services.c.value,
                order_by=(col(Incident.started_at).desc(), col(Incident.id).desc()),
            )
            .label("n"),
        )
        .select_from(Incident)
        .join(services, true())
        .where(
            col(Incident.started_at) < end,
            col(Incident.started_at) >= end - MAX_WINDOW,
            col(Incident.status) != Status.DECLINED,
            services.c.value.in_(in_scope),
        )
        .subquery()
    )
    recent = (
        select_columns(ranked.c.service, ranked.c.incident_id).where(ranked.c.n <= last).subquery()
    )
    totals: dict[str, int] = dict(
        (
            await session.execute(
                select_columns(recent.c.service, func.count()).group_by(recent.c.service)
            )
        ).all()
    )
    people = _people()
    involved = func.count(func.distinct(recent.c.incident_id))
    counted: defaultdict[str, list[PersonCount]] = defaultdict(list)
    for service, handle, count in await session.execute(
        select_columns(recent.c.service, people.c.handle, involved)
        .join(people, people.c.incident_id == recent.c.incident_id)
        .group_by(recent.c.service, people.c.handle)
        .order_by(involved.desc(), people.c.handle)
    ):
        counted[service].append(PersonCount(handle=handle, incidents=int(count)))
    figures = []
    for service in sorted(totals):
        incidents, top = int(totals[service]), counted[service]
        share = top[0].incidents / incidents if top else None
        key_person = share is not None and incidents >= MIN_INCIDENTS and share > KEY_PERSON_SHARE
        figures.append(
            PeopleConcentration(
                service=service,
                incidents=incidents,
                people=top,
                top_share=share,
                suggestion=KEY_PERSON if key_person else None,
            )
        )
    return figures


async def _time_to_cause(session: AsyncSession, filters: ReportFilters) -> TimeToCause:
    scope = [*incident_scope(session, filters), col(Incident.status) != Status.DECLINED]
    ids = select(col(Incident.id)).where(*scope)
    engaged = sre_engagements(ids).subquery()
    data = type_coerce(col(TimelineEntry.data), JSON)
    named = or_(
        and_(
            col(TimelineEntry.kind) == EntryKind.DEPLOY_LINKED,
            data["to"].as_string().is_not(None),
        ),
        and_(
            col(TimelineEntry.kind) == EntryKind.DECISION,
            json_flag(col(TimelineEntry.data), "cause", backend_of(session)),
        ),
    )
    cause = (
        select_columns(
            col(TimelineEntry.incident_id).label("incident_id"),
            func.min(col(TimelineEntry.occurred_at)).label("cause_at"),
        )
        .where(col(TimelineEntry.incident_id).in_(ids), named)
        .group_by(col(TimelineEntry.incident_id))
        .subquery()
    )
    pairs = select_columns(engaged.c.engaged_at, cause.c.cause_at).join(
        cause, cause.c.incident_id == engaged.c.incident_id
    )
    services = services_of_incident(session)
    by_service = await durations_by(
        session,
        select_columns(services.c.value, engaged.c.engaged_at, cause.c.cause_at)
        .select_from(Incident)
        .join(services, true())
        .join(engaged, engaged.c.incident_id == col(Incident.id))
        .join(cause, cause.c.incident_id == col(Incident.id))
        .where(*scope),
    )
    return TimeToCause(
        overall=stat_of(await durations(session, pairs)),
        by_service={name: stat_of(by_service[name]) for name in sorted(by_service)},
    )


async def ledger(
    session: AsyncSession, filters: ReportFilters, *, taxonomy: Taxonomy, last: int
) -> LedgerOut:
    start, end = filters.window()
    return LedgerOut(
        window=Window(start=start, end=end),
        service=filters.service,
        categories=await _categories(session, filters, taxonomy),
        signals=Signals(
            people_concentration=await _people_concentration(session, filters, last),
            time_to_cause=await _time_to_cause(session, filters),
        ),
    )
