"""Incidents: gap-free human numbers, filters, changes and the status machine."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import (
    BindParameter,
    bindparam,
    false,
    insert,
    or_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.actors import Via
from app.core.clock import utcnow
from app.core.db import table_of
from app.core.errors import Conflict, FieldProblem, InvalidInput
from app.core.events import emit
from app.core.pagination import Keyset, PageParams, Rows
from app.core.sql import (
    Backend,
    backend_of,
    in_bound,
    json_list_has_any,
    json_object_contains,
    json_object_has_keys,
    next_in_counter,
    search_order,
)
from app.deploys import service as deploys_service
from app.deploys.models import Deploy
from app.incidents import lookup
from app.incidents.events import (
    IncidentCreated,
    IncidentMerged,
    IncidentStatusChanged,
    IncidentUpdated,
)
from app.incidents.models import Counter, Incident
from app.incidents.schemas import (
    LABEL_KEY_MAX,
    LABEL_VALUE_MAX,
    OUT_COLUMNS,
    IncidentCreate,
    IncidentOut,
    IncidentRef,
    IncidentUpdate,
    MergeMoved,
)
from app.incidents.state import (
    FINAL,
    OPEN,
    STAMPS,
    DeclineReason,
    Severity,
    Status,
    allowed_moves,
    can_move,
)
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

CLOCK_SKEW_SECONDS = 120


class InvalidTransition(Conflict):
    code, title = "invalid-transition", "Status change not allowed"


class SameIncident(Conflict):
    code, title = "same-incident", "An incident cannot be merged into or related to itself"


class MergeTargetFinal(Conflict):
    code, title = "merge-target-final", "Cannot merge into a closed, declined or merged incident"


@dataclass(frozen=True)
class IncidentFilters:
    statuses: list[Status] | None = None
    severities: list[Severity] | None = None
    service: str | None = None
    q: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    open: bool | None = None
    # `label=` filters: (key, value) pairs, value None for "has the key".
    labels: tuple[tuple[str, str | None], ...] = ()


MAX_LABEL_FILTERS = 20
_LABEL_FIELD = "query.label"


def _label_problem(key: str, colon: str, value: str) -> str | None:
    if not colon:
        return "must be key:value or key:"
    if not key:
        return "the key is empty"
    if len(key) > LABEL_KEY_MAX:
        return f"the key is longer than {LABEL_KEY_MAX} characters"
    if len(value) > LABEL_VALUE_MAX:
        return f"the value is longer than {LABEL_VALUE_MAX} characters"
    return None


def parse_label_filters(values: list[str]) -> tuple[tuple[str, str | None], ...]:
    """`key:value` (that value) or `key:` (any value): split at the first colon."""
    if len(values) > MAX_LABEL_FILTERS:
        raise InvalidInput(
            f"At most {MAX_LABEL_FILTERS} `label` filters",
            errors=[FieldProblem(field=_LABEL_FIELD, message="too many", type="too_long")],
        )
    parsed = []
    for value in values:
        key, colon, wanted = value.partition(":")
        if problem := _label_problem(key, colon, wanted):
            raise InvalidInput(
                f"label={value[:120]!r}: {problem}",
                errors=[FieldProblem(field=_LABEL_FIELD, message=problem, type="label_filter")],
            )
        parsed.append((key, wanted or None))
    return tuple(parsed)


def _not_future(started_at: datetime) -> None:
    if (started_at - utcnow()).total_seconds() > CLOCK_SKEW_SECONDS:
        raise InvalidInput(
            "started_at is in the future",
            errors=[
                FieldProblem(
                    field="body.started_at", message="must not be in the future", type="future_time"
                )
            ],
        )


class Linked(Protocol):
    """An incident as a link to it names it."""

    id: uuid.UUID

    @property
    def reference(self) -> str: ...


# An INSERT returning the whole row as a persistent ORM object: cheaper than
# `session.add` and a flush on the path that opens an incident per Alertmanager group.
_INSERT = insert(Incident).returning(Incident)


async def create_incident(
    session: AsyncSession,
    data: IncidentCreate,
    *,
    actor: str,
    source: str = "api",
    alert_group: str | None = None,
    recurrence_of: Linked | None = None,
) -> Incident:
    now = utcnow()
    started_at = data.started_at or now
    _not_future(started_at)
    row = {
        "id": uuid.uuid4(),
        "title": data.title,
        "summary": data.summary,
        "severity": data.severity,
        "status": Status.TRIGGERED,
        "services": list(dict.fromkeys(data.services)),
        "labels": data.labels,
        "source": source,
        "alert_group": alert_group,
        "recurrence_of": recurrence_of.id if recurrence_of else None,
        "started_at": started_at,
        "created_at": now,
        "updated_at": now,
    }
    if (number := await next_in_counter(session, Counter, "incident")) is not None:
        row["number"] = number
    incident = (await session.scalars(_INSERT, [row])).one()
    timeline_service.record(
        session,
        incident,
        EntryKind.INCIDENT_CREATED,
        f"{incident.reference} opened: {incident.title} ({incident.severity})"
        + (f"; recurrence of {recurrence_of.reference}" if recurrence_of else ""),
        author=actor,
        data={
            "source": source,
            "severity": incident.severity,
            "services": incident.services,
            "recurrence_of": str(recurrence_of.id) if recurrence_of else None,
        },
    )
    emit(session, IncidentCreated.of(incident))
    return incident


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Table columns, not ORM attributes: a result of ORM-annotated columns is matched to
# its cached compiled form column by column on every request, at a cost.
_INCIDENTS = table_of(Incident)
_LIST = select(*(_INCIDENTS.c[name] for name in OUT_COLUMNS))
_ORDER = (col(Incident.created_at), col(Incident.id))


@cache
def _pages(backend: Backend, filters: frozenset[str]) -> Keyset[dict[str, Any]]:
    """The list's page statements for one combination of filters, built once; the
    filters' values are bound at execution (see `list_incidents`)."""
    statement = _LIST
    if "statuses" in filters:
        statement = statement.where(in_bound(col(Incident.status), "statuses", backend))
    if "severities" in filters:
        statement = statement.where(in_bound(col(Incident.severity), "severities", backend))
    if "open" in filters or "ended" in filters:
        is_open = col(Incident.status).in_(OPEN)
        statement = statement.where(is_open if "open" in filters else ~is_open)
    if "created_after" in filters:
        statement = statement.where(col(Incident.created_at) >= bindparam("created_after"))
    if "created_before" in filters:
        statement = statement.where(col(Incident.created_at) < bindparam("created_before"))
    if "pattern" in filters:
        pattern: BindParameter[str] = bindparam("pattern")
        statement = statement.where(
            or_(
                col(Incident.title).ilike(pattern, escape="\\"),
                col(Incident.summary).ilike(pattern, escape="\\"),
            )
        )
    if "services" in filters:
        statement = statement.where(json_list_has_any(col(Incident.services), "services", backend))
    labels = col(Incident.labels)
    if "label_pairs" in filters:
        statement = statement.where(json_object_contains(labels, "label_pairs", backend))
    if "label_keys" in filters:
        statement = statement.where(json_object_has_keys(labels, "label_keys", backend))
    if "nothing" in filters:
        statement = statement.where(false())
    sorted_by = search_order(backend, *_ORDER) if "pattern" in filters else ()
    return Keyset(statement, *_ORDER, plain_rows=True, sorted_by=sorted_by)


async def list_incidents(
    session: AsyncSession, filters: IncidentFilters, page: PageParams
) -> Rows[dict[str, Any]]:
    """Plain rows of the columns `IncidentOut` needs: no ORM objects on this hot path."""
    binds: dict[str, Any] = {
        "statuses": filters.statuses,
        "severities": filters.severities,
        "created_after": filters.created_after,
        "created_before": filters.created_before,
        "pattern": f"%{_escape_like(filters.q)}%" if filters.q else None,
        "services": [filters.service] if filters.service else None,
    }
    pairs: dict[str, str] = {}
    for key, value in filters.labels:
        if value is not None and pairs.setdefault(key, value) != value:
            binds["nothing"] = True  # one key, two values: nothing has both
    binds["label_pairs"] = pairs or None
    binds["label_keys"] = sorted({key for key, value in filters.labels if value is None}) or None
    shape = {name for name, value in binds.items() if value}
    if filters.open is not None:
        shape.add("open" if filters.open else "ended")
    pages = _pages(backend_of(session), frozenset(shape))
    return await pages.page(session, page, binds)


def touch(incident: Incident) -> None:
    """Mark `incident` changed: a new version (its ETag) and `updated_at`."""
    incident.version += 1
    incident.updated_at = utcnow()


async def update_incident(
    session: AsyncSession, incident: Incident, changes: IncidentUpdate, *, actor: str
) -> Incident:
    """Apply a PATCH's own fields: plain fields, severity, cause, then the status move.

    The commander is the participants' business (`flows.incidents.update_incident`).
    """
    sent = changes.model_fields_set
    _check_decline(changes)
    if changes.status is not None:
        _check_move(incident, changes.status)
    cause = None
    if changes.caused_by_deploy_id is not None:
        cause = await _named_cause(session, changes.caused_by_deploy_id)

    changed: dict[str, dict[str, Any]] = {}
    for field in ("title", "summary", "services", "labels"):
        if field in sent:
            value = getattr(changes, field)
            value = list(dict.fromkeys(value)) if field == "services" else value
            if value != getattr(incident, field):
                changed[field] = {"from": getattr(incident, field), "to": value}
                setattr(incident, field, value)
    if changed:
        timeline_service.record(
            session,
            incident,
            EntryKind.INCIDENT_UPDATED,
            f"Changed {', '.join(changed)}",
            author=actor,
            data={"changes": changed},
        )
    if changes.severity is not None and changes.severity != incident.severity:
        changed["severity"] = {"from": incident.severity, "to": changes.severity}
        incident.severity = changes.severity
        timeline_service.record(
            session,
            incident,
            EntryKind.SEVERITY_CHANGED,
            f"Severity {changed['severity']['from']} → {changes.severity}",
            author=actor,
            data=changed["severity"],
        )
    if (
        "caused_by_deploy_id" in sent
        and changes.caused_by_deploy_id != incident.caused_by_deploy_id
    ):
        changed["caused_by_deploy_id"] = {
            "from": str(incident.caused_by_deploy_id) if incident.caused_by_deploy_id else None,
            "to": str(changes.caused_by_deploy_id) if changes.caused_by_deploy_id else None,
        }
        incident.caused_by_deploy_id = changes.caused_by_deploy_id
        timeline_service.record(
            session,
            incident,
            EntryKind.DEPLOY_LINKED,
            f"Cause named: {deploys_service.describe(cause)}" if cause else "Cause cleared",
            author=actor,
            data=changed["caused_by_deploy_id"]
            | ({"deploy": deploys_service.summary(cause)} if cause else {}),
        )
    if changed:
        touch(incident)
        await session.flush()
        emit(session, IncidentUpdated.of(incident, changed))
    if changes.status is not None:
        await move(
            session, incident, changes.status, actor=actor, reason=changes.reason, note=changes.note
        )
    return incident


async def _named_cause(session: AsyncSession, deploy_id: uuid.UUID) -> Deploy:
    try:
        return await deploys_service.get_deploy(session, deploy_id)
    except deploys_service.DeployNotFound:
        raise InvalidInput(
            f"No deploy {deploy_id} to name as the cause",
            errors=[
                FieldProblem(
                    field="body.caused_by_deploy_id", message="unknown deploy", type="not_found"
                )
            ],
        ) from None


def _check_decline(changes: IncidentUpdate) -> None:
    """`reason` (and `note`) go with a move to `declined`, and only with it."""
    if changes.status == Status.DECLINED:
        if changes.reason is None:
            raise InvalidInput(
                "Declining an incident needs a `reason`: "
                + ", ".join(reason.value for reason in DeclineReason),
                errors=[
                    FieldProblem(field="body.reason", message="required to decline", type="missing")
                ],
            )
        return
    for field in ("reason", "note"):
        if getattr(changes, field) is not None:
            raise InvalidInput(
                f"`{field}` is only sent with `status: declined`",
                errors=[
                    FieldProblem(
                        field=f"body.{field}", message="only with status declined", type="extra"
                    )
                ],
            )


def _check_move(incident: Incident, target: Status) -> None:
    current = Status(incident.status)
    if can_move(current, target):
        return
    allowed = allowed_moves(current)
    state = f"already {current}" if target == current else current
    detail = (
        f"{incident.reference} is {state}; it can move to {', '.join(allowed)}"
        if allowed
        else f"{incident.reference} is {state}, which is final"
    )
    raise InvalidTransition(detail, extra={"current": current, "allowed": allowed})


async def move(
    session: AsyncSession,
    incident: Incident,
    target: Status,
    *,
    actor: str,
    reason: DeclineReason | None = None,
    note: str | None = None,
) -> None:
    """Move along the status machine, stamping the target's `*_at` the first time.

    A move to `declined` records its `reason` (required) and `note`.
    """
    _check_move(incident, target)
    if target == Status.DECLINED and reason is None:
        raise ValueError("a move to declined needs a reason")  # callers check first
    previous = Status(incident.status)
    now = utcnow()
    incident.status = target
    stamp = STAMPS.get(target)
    if stamp and getattr(incident, stamp) is None:
        setattr(incident, stamp, now)
    text = f"Status {previous} → {target}"
    data: dict[str, str | None] = {"from": previous, "to": target}
    if target == Status.DECLINED:
        incident.decline_reason, incident.decline_note = reason, note
        text += f" ({reason}{f': {note}' if note else ''})"
        data |= {"reason": reason, "note": note}
    touch(incident)
    await session.flush()
    timeline_service.record(
        session, incident, EntryKind.STATUS_CHANGED, text, author=actor, data=data
    )
    emit(session, IncidentStatusChanged.of(incident, previous, target))


async def set_commander(session: AsyncSession, incident: Incident, handle: str | None) -> None:
    """Record the incident's commander (the participants domain decides who it is)."""
    if incident.commander == handle:
        return
    change = {"commander": {"from": incident.commander, "to": handle}}
    incident.commander = handle
    touch(incident)
    await session.flush()
    emit(session, IncidentUpdated.of(incident, change))


async def named_incident_id(session: AsyncSession, ident: str, *, field: str) -> uuid.UUID:
    """The id of the incident a body field names: an unknown one is bad input (422)."""
    try:
        return await lookup.get_incident_id(session, ident)
    except lookup.IncidentNotFound as missing:
        raise InvalidInput(
            str(missing),
            errors=[FieldProblem(field=field, message="unknown incident", type="not_found")],
        ) from None


async def lock_pair(
    session: AsyncSession, incident: Incident, other_ident: str, *, field: str
) -> tuple[Incident, Incident]:
    """`incident` and the one `other_ident` (the body's `field`) names, both locked,
    fresh from the database.

    The rows are locked in id order, whichever of the two the request names first, so
    two requests on the same pair (a merge each way, say) queue instead of deadlocking.
    """
    other_id = await named_incident_id(session, other_ident, field=field)
    if other_id == incident.id:
        raise SameIncident(f"{incident.reference} is the incident itself")
    locked = await session.scalars(
        select(Incident)
        .where(col(Incident.id).in_([incident.id, other_id]))
        .order_by(col(Incident.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    by_id = {row.id: row for row in locked}
    return by_id[incident.id], by_id[other_id]


def check_merge(incident: Incident, into: Incident) -> None:
    """A merge moves `incident` to `merged`: it must not be final, nor may `into` be."""
    if Status(into.status) in FINAL:
        raise MergeTargetFinal(
            f"{into.reference} is {into.status}: merge into an incident that is still going",
            extra={"into_status": into.status},
        )
    if Status(incident.status) in FINAL:
        raise InvalidTransition(
            f"{incident.reference} is {incident.status}, which is final",
            extra={"current": incident.status, "allowed": []},
        )


async def mark_merged(
    session: AsyncSession,
    incident: Incident,
    into: Incident,
    moved: MergeMoved,
    *,
    actor: str,
    via: Via | None,
) -> None:
    """Record the merge on both incidents: `incident` ends `merged`, naming `into`."""
    previous = Status(incident.status)
    incident.status, incident.merged_into = Status.MERGED, into.id
    incident.merged_at = utcnow()
    touch(incident)
    touch(into)
    await session.flush()
    data = {"from": previous, "to": Status.MERGED, "into": str(into.id)}
    summary = f"Status {previous} → merged into {into.reference}"
    timeline_service.record(
        session, incident, EntryKind.STATUS_CHANGED, summary, author=actor, via=via, data=data
    )
    counts = moved.model_dump()
    timeline_service.record(
        session,
        into,
        EntryKind.MERGED,
        f"{incident.reference} merged into this incident: {incident.title}",
        author=actor,
        via=via,
        data={"merged": str(incident.id), "reference": incident.reference} | counts,
    )
    emit(session, IncidentStatusChanged.of(incident, previous, Status.MERGED))
    emit(
        session,
        IncidentMerged(incident=IncidentOut.of(incident), into=IncidentRef.of(into), moved=moved),
    )
