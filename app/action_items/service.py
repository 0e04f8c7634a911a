"""Action items: what an incident taught, who does it by when, and where it is rolled out.

Every change adds an `action_item` timeline entry to the incident and emits
`action_item.updated`, in the same transaction as the change.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.action_items.events import ActionItemOverdue, ActionItemUpdated
from app.action_items.models import (
    UNFINISHED,
    ActionItem,
    ActionItemRollout,
    ActionKind,
    ActionStatus,
    RolloutStatus,
)
from app.action_items.schemas import (
    ActionItemCreate,
    ActionItemOut,
    ActionItemUpdate,
    is_overdue,
)
from app.contributing_factors.models import ContributingFactor
from app.core import timers
from app.core.clock import utcnow
from app.core.errors import FieldProblem, InvalidInput, NotFound
from app.core.events import emit
from app.core.pagination import PageParams, Rows, paginate
from app.deploys.schemas import MissingMeasure
from app.incidents.models import Incident, reference_of
from app.incidents.schemas import IncidentRef
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

# The fields a PATCH sets as sent (the rollout is merged per service).
FIELDS = (
    "title",
    "description",
    "kind",
    "owner",
    "due",
    "status",
    "tracker_url",
    "external_id",
    "addresses",
)


class ActionItemNotFound(NotFound):
    pass


OVERDUE_TIMER = "action_item_overdue"
AUTOMATIC = "muster"  # the author of what Muster records by itself


def overdue_at(due: date) -> datetime:
    """When an item due on `due` (a UTC day) becomes overdue: the next day begins."""
    return datetime.combine(due + timedelta(days=1), time(0), UTC)


async def _arm_overdue(session: AsyncSession, item: ActionItem) -> None:
    """One `action_item.overdue` per due date: armed while the item is unfinished and
    has a due date; a fired one stays fired (its key is the due date)."""
    await timers.cancel(session, kind=OVERDUE_TIMER, subject_id=item.id)
    if item.due is not None and item.status in UNFINISHED:
        await timers.schedule(
            session,
            kind=OVERDUE_TIMER,
            subject_id=item.id,
            key=item.due.isoformat(),
            due_at=overdue_at(item.due),
        )


async def _check_addresses(session: AsyncSession, factor_id: uuid.UUID | None) -> None:
    if factor_id is not None and await session.get(ContributingFactor, factor_id) is None:
        raise InvalidInput(
            f"No contributing factor {factor_id}",
            errors=[
                FieldProblem(
                    field="body.addresses", message="unknown contributing factor", type="not_found"
                )
            ],
        )


def _json_ready(value: Any) -> Any:
    return (
        value.isoformat()
        if isinstance(value, date)
        else str(value)
        if isinstance(value, uuid.UUID)
        else value
    )


@dataclass(frozen=True)
class ActionItemFilters:
    statuses: list[ActionStatus] | None = None
    kinds: list[ActionKind] | None = None
    owner: str | None = None
    rollout_service: str | None = None
    rollout_statuses: list[RolloutStatus] | None = None
    overdue: bool | None = None


async def rollouts_of(
    session: AsyncSession, item_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ActionItemRollout]]:
    found: dict[uuid.UUID, list[ActionItemRollout]] = {item_id: [] for item_id in item_ids}
    if item_ids:
        rows = await session.scalars(
            select(ActionItemRollout).where(col(ActionItemRollout.action_item_id).in_(item_ids))
        )
        for rollout in rows:
            found[rollout.action_item_id].append(rollout)
    return found


async def describe(session: AsyncSession, items: Sequence[ActionItem]) -> list[ActionItemOut]:
    """Response models for `items`, with their rollouts and incident references (2 queries)."""
    rollouts = await rollouts_of(session, [item.id for item in items])
    incident_ids = {item.incident_id for item in items}
    numbers: dict[uuid.UUID, int] = {}
    if incident_ids:
        rows = await session.execute(
            select(Incident.id, Incident.number).where(col(Incident.id).in_(incident_ids))
        )
        numbers = dict(rows.all())
    return [
        ActionItemOut.of(item, rollouts[item.id], reference_of(numbers[item.incident_id]))
        for item in items
    ]


async def _announce(
    session: AsyncSession,
    incident: Incident,
    item: ActionItem,
    summary: str,
    *,
    actor: str,
    changes: dict[str, Any],
) -> ActionItemOut:
    (out,) = await describe(session, [item])
    timeline_service.record(
        session,
        incident,
        EntryKind.ACTION_ITEM,
        summary,
        author=actor,
        data={"action_item_id": str(item.id), "title": item.title, "changes": changes},
    )
    emit(
        session,
        ActionItemUpdated(incident=IncidentRef.of(incident), action_item=out, changes=changes),
    )
    return out


async def create_action_item(
    session: AsyncSession, incident: Incident, data: ActionItemCreate, *, actor: str
) -> ActionItemOut:
    await _check_addresses(session, data.addresses)
    now = utcnow()
    item = ActionItem(
        incident_id=incident.id,
        title=data.title,
        description=data.description,
        kind=data.kind,
        owner=data.owner,
        due=data.due,
        status=data.status,
        tracker_url=data.tracker_url,
        external_id=data.external_id,
        addresses=data.addresses,
        created_at=now,
        updated_at=now,
        completed_at=None if data.status in UNFINISHED else now,
    )
    session.add(item)
    await session.flush()
    session.add_all(
        ActionItemRollout(
            action_item_id=item.id,
            service=entry.service,
            status=entry.status,
            note=entry.note,
            updated_at=now,
        )
        for entry in data.rollout
    )
    await session.flush()
    await _arm_overdue(session, item)
    details = [str(item.kind)]
    if item.owner:
        details.append(f"owner {item.owner}")
    if item.due:
        details.append(f"due {item.due.isoformat()}")
    if data.rollout:
        details.append("rollout to " + ", ".join(entry.service for entry in data.rollout))
    changes = {"created": True, "status": {"from": None, "to": item.status}}
    return await _announce(
        session,
        incident,
        item,
        f"Action item added: {item.title} ({'; '.join(details)})",
        actor=actor,
        changes=changes,
    )


async def get_action_item(
    session: AsyncSession, item_id: uuid.UUID, *, for_update: bool = False
) -> tuple[ActionItem, Incident]:
    statement = select(ActionItem).where(col(ActionItem.id) == item_id)
    if for_update:
        statement = statement.with_for_update()
    item = await session.scalar(statement)
    if item is None:
        raise ActionItemNotFound(f"No action item {item_id}")
    incident = await session.get(Incident, item.incident_id)
    assert incident is not None, "action items are deleted with their incident"
    return item, incident


async def _apply_rollout(
    session: AsyncSession, item: ActionItem, changes: ActionItemUpdate
) -> dict[str, dict[str, Any]]:
    """Upsert or remove the rollout per service; returns what changed, by service."""
    current = {r.service: r for r in (await rollouts_of(session, [item.id]))[item.id]}
    changed: dict[str, dict[str, Any]] = {}
    now = utcnow()
    for change in changes.rollout or []:
        existing = current.get(change.service)
        if change.remove:
            if existing is not None:
                changed[change.service] = {"from": existing.status, "to": None}
                await session.delete(existing)
            continue
        if existing is None:
            status = change.status or RolloutStatus.PENDING
            session.add(
                ActionItemRollout(
                    action_item_id=item.id,
                    service=change.service,
                    status=status,
                    note=change.note,
                    updated_at=now,
                )
            )
            changed[change.service] = {"from": None, "to": status}
            continue
        before = (existing.status, existing.note)
        if change.status is not None:
            existing.status = change.status
        if "note" in change.model_fields_set:
            existing.note = change.note
        if (existing.status, existing.note) != before:
            existing.updated_at = now
            changed[change.service] = {"from": before[0], "to": existing.status}
            if existing.note != before[1]:
                changed[change.service]["note"] = existing.note
    await session.flush()
    return changed


def _describe_changes(changes: dict[str, Any]) -> str:
    parts: list[str] = []
    for field, change in changes.items():
        if field == "rollout":
            for service, step in change.items():
                before, after = step["from"] or "added", step["to"] or "removed"
                parts.append(
                    f"rollout {service}: note changed"
                    if before == after
                    else f"rollout {service}: {before} → {after}"
                )
        elif field in ("status", "kind", "owner", "due", "external_id"):
            parts.append(f"{field} {change['from'] or '—'} → {change['to'] or '—'}")
        else:
            parts.append(f"{field} changed")
    return "; ".join(parts)


async def update_action_item(
    session: AsyncSession,
    incident: Incident,
    item: ActionItem,
    changes: ActionItemUpdate,
    *,
    actor: str,
) -> ActionItemOut:
    """Apply a PATCH; a PATCH that changes nothing records nothing."""
    changed: dict[str, Any] = {}
    if "addresses" in changes.model_fields_set:
        await _check_addresses(session, changes.addresses)
    for field in FIELDS:
        if field not in changes.model_fields_set:
            continue
        value, before = getattr(changes, field), getattr(item, field)
        if value != before:
            changed[field] = {"from": _json_ready(before), "to": _json_ready(value)}
            setattr(item, field, value)
    now = utcnow()
    if "status" in changed:
        finished = item.status not in UNFINISHED
        if finished and changed["status"]["from"] in UNFINISHED:
            item.completed_at = now
        elif not finished:
            item.completed_at = None
    if changes.rollout is not None:
        rollout = await _apply_rollout(session, item, changes)
        if rollout:
            changed["rollout"] = rollout
    if not changed:
        (out,) = await describe(session, [item])
        return out
    item.updated_at = now
    await session.flush()
    if {"due", "status"} & changed.keys():
        await _arm_overdue(session, item)
    return await _announce(
        session,
        incident,
        item,
        f"Action item {item.title}: {_describe_changes(changed)}",
        actor=actor,
        changes=changed,
    )


async def list_for_incident(
    session: AsyncSession, incident: Incident, page: PageParams
) -> Rows[ActionItem]:
    statement = select(ActionItem).where(col(ActionItem.incident_id) == incident.id)
    return await paginate(
        session, statement, page, col(ActionItem.created_at), col(ActionItem.id), descending=False
    )


async def all_for_incident(session: AsyncSession, incident: Incident) -> list[ActionItemOut]:
    items = await session.scalars(
        select(ActionItem)
        .where(col(ActionItem.incident_id) == incident.id)
        .order_by(col(ActionItem.created_at), col(ActionItem.id))
    )
    return await describe(session, list(items))


async def list_action_items(
    session: AsyncSession, filters: ActionItemFilters, page: PageParams
) -> Rows[ActionItem]:
    statement = select(ActionItem)
    if filters.statuses:
        statement = statement.where(col(ActionItem.status).in_(filters.statuses))
    if filters.kinds:
        statement = statement.where(col(ActionItem.kind).in_(filters.kinds))
    if filters.owner is not None:
        statement = statement.where(col(ActionItem.owner) == filters.owner)
    if filters.rollout_service is not None or filters.rollout_statuses:
        rollout = exists().where(col(ActionItemRollout.action_item_id) == col(ActionItem.id))
        if filters.rollout_service is not None:
            rollout = rollout.where(col(ActionItemRollout.service) == filters.rollout_service)
        if filters.rollout_statuses:
            rollout = rollout.where(col(ActionItemRollout.status).in_(filters.rollout_statuses))
        statement = statement.where(rollout)
    if filters.overdue is not None:
        today = utcnow().date()
        due, status = col(ActionItem.due), col(ActionItem.status)
        if filters.overdue:
            statement = statement.where(due < today, status.in_(UNFINISHED))
        else:
            statement = statement.where(or_(due.is_(None), due >= today, status.not_in(UNFINISHED)))
    return await paginate(session, statement, page, col(ActionItem.created_at), col(ActionItem.id))


async def missing_measures(session: AsyncSession, service: str) -> list[MissingMeasure]:
    """The release gate: `prevent` measures (not given up) whose rollout to `service` is
    pending, or in progress past the measure's due date, oldest first."""
    today = utcnow().date()
    rollout, due = col(ActionItemRollout.status), col(ActionItem.due)
    rows = await session.execute(
        select(ActionItem, rollout, Incident.number)
        .join(ActionItemRollout, col(ActionItemRollout.action_item_id) == col(ActionItem.id))
        .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
        .where(
            col(ActionItemRollout.service) == service,
            col(ActionItem.kind) == ActionKind.PREVENT,
            col(ActionItem.status) != ActionStatus.WONT_DO,
            or_(
                rollout == RolloutStatus.PENDING,
                and_(rollout == RolloutStatus.IN_PROGRESS, due < today),
            ),
        )
        .order_by(col(ActionItem.created_at), col(ActionItem.id))
    )
    return [
        MissingMeasure(
            action_item_id=item.id,
            title=item.title,
            incident_id=item.incident_id,
            incident_reference=reference_of(number),
            rollout_status=status,
            due=item.due,
            overdue=item.due is not None and item.due < today,
        )
        for item, status, number in rows.all()
    ]


async def announce_overdue(session: AsyncSession, item_id: uuid.UUID, due: str) -> None:
    """The overdue timer of `item_id` for due date `due` fired: if the item is still
    unfinished and due then, record it and emit `action_item.overdue`."""
    found = await session.scalar(
        select(ActionItem).where(col(ActionItem.id) == item_id).with_for_update()
    )
    today = utcnow().date()
    if found is None or found.due is None or found.due.isoformat() != due:
        return
    if not is_overdue(found, today):
        return
    incident = await session.get(Incident, found.incident_id)
    assert incident is not None, "action items are deleted with their incident"
    (out,) = await describe(session, [found])
    timeline_service.record(
        session,
        incident,
        EntryKind.ACTION_ITEM,
        f"Action item overdue: {found.title} (due {due})",
        author=AUTOMATIC,
        data={"action_item_id": str(found.id), "title": found.title, "overdue": due},
    )
    emit(session, ActionItemOverdue(incident=IncidentRef.of(incident), action_item=out))
