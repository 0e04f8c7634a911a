"""Read model: the service page, in two statements (the record, then every section).

The sections are one `UNION ALL` of small, indexed selects, each row tagged with its
section and cast to one shared set of columns: the incidents by service (GIN on
PostgreSQL), deploys by (service, …), rollouts by (service, status), rollback reviews
by (service, executed_at).
"""

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import (
    CompoundSelect,
    Date,
    Integer,
    Select,
    String,
    Uuid,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    union_all,
)
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine
from sqlmodel import col

from app.action_items.models import ActionItem, ActionItemRollout, RolloutStatus
from app.catalog import service as catalog_service
from app.catalog.schemas import (
    DeployLine,
    IncidentLine,
    MeasureLine,
    RollbackLine,
    RollbackPerson,
    RollbackReadiness,
    ServiceOut,
    ServiceOverview,
)
from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime
from app.core.sql import Backend, backend_of, json_list_contains
from app.deploys.models import Deploy, DeployKind
from app.incidents.models import Incident, reference_of
from app.incidents.state import OPEN
from app.rollbacks.models import ReviewStatus, RollbackReview, VerificationResult

OPEN_INCIDENTS, RECENT_INCIDENTS, RECENT_DEPLOYS, PENDING_MEASURES = 20, 10, 10, 50
PEOPLE_WINDOW = timedelta(days=180)

Part: TypeAlias = Select[*tuple[Any, ...]]

# The columns every section's rows are cast to; a section leaves out what it lacks.
_COLUMNS: dict[str, TypeEngine[Any]] = {
    "id": Uuid(),
    "number": Integer(),
    "count": Integer(),
    "title": String(),
    "text_a": String(),
    "text_b": String(),
    "text_c": String(),
    "at_a": UTCDateTime(),
    "at_b": UTCDateTime(),
    "at_c": UTCDateTime(),
    "day": Date(),
    "data": JSONType,
}


def _section(name: str, statement: Part) -> Part:
    """`statement` (its columns labelled as in `_COLUMNS`) as rows of section `name`."""
    rows = statement.subquery()
    return select_columns(
        literal(name).label("section"),
        *(
            rows.c[column] if column in rows.c else cast(null(), kind).label(column)
            for column, kind in _COLUMNS.items()
        ),
    )


def _incidents(name: str, backend: Backend) -> list[Part]:
    def lines(*where: Any) -> Part:
        return select_columns(
            col(Incident.id).label("id"),
            col(Incident.number).label("number"),
            col(Incident.title).label("title"),
            col(Incident.severity).label("text_a"),
            col(Incident.status).label("text_b"),
            col(Incident.started_at).label("at_a"),
            col(Incident.mitigated_at).label("at_b"),
            col(Incident.resolved_at).label("at_c"),
        ).where(json_list_contains(col(Incident.services), name, backend), *where)

    status = col(Incident.status)
    newest = col(Incident.started_at).desc(), col(Incident.id).desc()
    return [
        _section("open", lines(status.in_(OPEN)).order_by(*newest).limit(OPEN_INCIDENTS)),
        _section("recent", lines(status.not_in(OPEN)).order_by(*newest).limit(RECENT_INCIDENTS)),
    ]


def _deploys(name: str) -> list[Part]:
    deploys: Part = select_columns(
        col(Deploy.id).label("id"),
        col(Deploy.version).label("title"),
        col(Deploy.environment).label("text_a"),
        col(Deploy.status).label("text_b"),
        col(Deploy.kind).label("text_c"),
        col(Deploy.effective_at).label("at_a"),
    ).where(col(Deploy.service) == name)
    newest = col(Deploy.effective_at).desc(), col(Deploy.id).desc()
    rolled_back = or_(
        exists().where(col(Deploy.service) == name, col(Deploy.kind) == DeployKind.ROLLBACK),
        exists().where(
            col(RollbackReview.service) == name, col(RollbackReview.executed_at).is_not(None)
        ),
    )
    deployed = exists().where(col(Deploy.service) == name)
    readiness: Part = select_columns(
        deployed.cast(Integer).label("number"), rolled_back.cast(Integer).label("count")
    )
    return [
        _section("deploy", deploys.order_by(*newest).limit(RECENT_DEPLOYS)),
        _section("readiness", readiness),
    ]


def _measures(name: str) -> Part:
    rollout = col(ActionItemRollout.status)
    measures: Part = (
        select_columns(
            col(ActionItem.id).label("id"),
            col(Incident.number).label("number"),
            col(ActionItem.title).label("title"),
            col(ActionItem.kind).label("text_a"),
            rollout.label("text_b"),
            col(ActionItem.owner).label("text_c"),
            col(ActionItem.due).label("day"),
            col(ActionItem.created_at).label("at_a"),
        )
        .join(ActionItem, col(ActionItem.id) == col(ActionItemRollout.action_item_id))
        .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
        .where(
            col(ActionItemRollout.service) == name,
            rollout.in_([RolloutStatus.PENDING, RolloutStatus.IN_PROGRESS]),
        )
        .order_by(col(ActionItem.due).is_(None), col(ActionItem.due), col(ActionItem.created_at))
        .limit(PENDING_MEASURES)
    )
    return _section("measure", measures)


def _rollbacks(name: str, since: datetime) -> list[Part]:
    review = RollbackReview
    verified: Part = (
        select_columns(
            col(review.id).label("id"),
            col(Incident.number).label("number"),
            col(review.from_version).label("title"),
            col(review.to_version).label("text_a"),
            col(review.executed_by).label("text_b"),
            col(review.reviewer).label("text_c"),
            col(review.created_at).label("at_a"),
            col(review.executed_at).label("at_b"),
            col(review.verified_at).label("at_c"),
            col(review.procedure).label("data"),
        )
        .join(Incident, col(Incident.id) == col(review.incident_id))
        .where(
            col(review.service) == name,
            col(review.executed_at).is_not(None),
            col(review.status) == ReviewStatus.VERIFIED,
            col(review.verification_result) == VerificationResult.RECOVERED,
        )
        .order_by(col(review.executed_at).desc())
        .limit(1)
    )
    recent = (col(review.service) == name, col(review.executed_at) >= since)
    hands = union_all(
        select_columns(col(review.executed_by).label("person")).where(
            *recent, col(review.executed_by).is_not(None)
        ),
        select_columns(col(review.reviewer).label("person")).where(
            *recent, col(review.reviewer).is_not(None)
        ),
    ).subquery()
    people: Part = select_columns(
        hands.c.person.label("title"), func.count().label("count")
    ).group_by(hands.c.person)
    return [_section("rollback", verified), _section("person", people)]


def sections(name: str, backend: Backend, now: datetime) -> CompoundSelect[*tuple[Any, ...]]:
    return union_all(
        *_incidents(name, backend),
        *_deploys(name),
        _measures(name),
        *_rollbacks(name, now - PEOPLE_WINDOW),
    )


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds() / 60, 1)


def _incident(row: Any) -> IncidentLine:
    return IncidentLine(
        id=row.id,
        reference=reference_of(row.number),
        title=row.title,
        severity=row.text_a,
        status=row.text_b,
        started_at=row.at_a,
        mitigated_at=row.at_b,
        resolved_at=row.at_c,
        minutes_to_mitigate=_minutes(row.at_a, row.at_b),
        minutes_to_resolve=_minutes(row.at_a, row.at_c),
    )


def _measure(row: Any, today: date) -> MeasureLine:
    return MeasureLine(
        action_item_id=row.id,
        incident=reference_of(row.number),
        title=row.title,
        kind=row.text_a,
        owner=row.text_c,
        due=row.day,
        rollout_status=row.text_b,
        overdue=row.day is not None and row.day < today,
    )


def _rollback(row: Any) -> RollbackLine:
    return RollbackLine(
        review_id=row.id,
        incident=reference_of(row.number),
        from_version=row.title,
        to_version=row.text_a,
        procedure=row.data,
        executed_by=row.text_b,
        reviewer=row.text_c,
        proposed_at=row.at_a,
        executed_at=row.at_b,
        verified_at=row.at_c,
        minutes_to_verified=_minutes(row.at_a, row.at_c),
    )


async def overview(session: AsyncSession, name: str) -> ServiceOverview:
    """The page of service `name` (404 `service-not-found` when it is not in the catalog)."""
    record = await catalog_service.get_service(session, name)
    now = utcnow()
    rows: dict[str, list[Any]] = defaultdict(list)
    for row in (await session.execute(sections(name, backend_of(session), now))).all():
        rows[row.section].append(row)
    (readiness,) = rows["readiness"]
    people = sorted(
        (RollbackPerson(handle=row.title, rollbacks=row.count) for row in rows["person"]),
        key=lambda person: (-person.rollbacks, person.handle),
    )
    last = rows["rollback"]
    return ServiceOverview(
        service=ServiceOut.of(record),
        open_incidents=[_incident(row) for row in rows["open"]],
        recent_incidents=[_incident(row) for row in rows["recent"]],
        recent_deploys=[
            DeployLine(
                id=row.id,
                kind=row.text_c,
                version=row.title,
                environment=row.text_a,
                status=row.text_b,
                at=row.at_a,
            )
            for row in rows["deploy"]
        ],
        pending_measures=[_measure(row, now.date()) for row in rows["measure"]],
        rollback_readiness=RollbackReadiness(
            last_verified=_rollback(last[0]) if last else None,
            people=people,
            bus_factor=len(people),
            single_person=len(people) == 1,
            never_rolled_back=bool(readiness.number) and not readiness.count,
        ),
    )
