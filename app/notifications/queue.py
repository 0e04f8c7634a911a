"""The delivery queue's steps, each run by the dispatcher in a transaction of its own.

- `fan_out`: turn outbox events not yet fanned out into one delivery per matching
  active subscription (and SRE target), and mark the events fanned out.
- `claim`: take due deliveries, mark them `delivering` with a lease, and return
  everything needed to send them without touching the database again.
- `record`: store the outcome of one attempt: delivered, retry later, dead, or failed
  (410 Gone, which also disables the subscription).
- `release`: hand an unfinished delivery back (the dispatcher is shutting down).

Like services, these functions only flush; the caller owns the transaction.
Concurrent dispatchers are safe: rows are claimed with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite serialises writers), the unique `(event_id, target_key)` makes a
repeated fan-out a no-op, and `record`/`release` only touch a delivery whose attempt
number is still the one claimed — a lease taken over by another worker is left alone.
"""

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, null, or_, update
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.clock import utcnow
from app.core.db import table_of, upsert_insert
from app.core.events import EventType, OutboxEvent
from app.core.sql import update_each
from app.engagement.models import Engagement
from app.engagement.policy import CATALOG, EscalationPolicy, Levels, Target, catalog_levels
from app.notifications.formats import pagerduty_action
from app.notifications.models import CLAIMABLE, Delivery, DeliveryStatus, Format, Subscription
from app.notifications.signing import decode_secret
from app.participants.models import Participant

INSERT_CHUNK = 500


# Events that may concern SRE targets: a level fired, an SRE joined, the incident resolved.
_SRE_EVENTS = frozenset(
    {EventType.INCIDENT_ESCALATED, EventType.PARTICIPANT_JOINED, EventType.INCIDENT_STATUS_CHANGED}
)


@dataclass(frozen=True)
class SreTargets:
    """The escalation policy's targets, which get SRE's events with no subscription:
    a level's `incident.escalated`, and for PagerDuty targets of levels that fired,
    the acknowledge (an SRE joined) and the resolve."""

    policy: EscalationPolicy
    by_key: dict[str, Target]

    @classmethod
    def of(cls, policy: EscalationPolicy) -> "SreTargets":
        return cls(policy, policy.targets())

    def of_event(
        self,
        event_type: str,
        data: dict[str, Any],
        engagement: Engagement,
        catalog: Mapping[str, Levels],
    ) -> list[Target]:
        if engagement.policy is None or engagement.level is None:
            return []
        levels = self.policy.levels_of(engagement.policy, catalog)
        if event_type == EventType.INCIDENT_ESCALATED:
            level = int(data.get("level", -1))
            return list(levels[level].targets) if 0 <= level < len(levels) else []
        if pagerduty_action(event_type, data) is None:
            return []
        fired = [t for level in levels[: engagement.level + 1] for t in level.targets]
        pagerduty = {t.key: t for t in fired if t.format == Format.PAGERDUTY}
        return list(pagerduty.values())


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    cap_seconds: float

    def delay(self, attempts: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(n-1))]."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** min(attempts - 1, 60))
        return random.uniform(0, ceiling)


@dataclass(frozen=True)
class Job:
    """One claimed attempt, with everything needed to send it."""

    delivery_id: uuid.UUID
    attempt: int  # the attempt number claimed; fences off a stale lease
    subscription_id: uuid.UUID | None
    url: str
    key: bytes | None
    body_format: Format
    event_type: str
    occurred_at: datetime
    data: dict[str, Any]
    incident_id: uuid.UUID | None = None
    routing_key: str | None = None
    on_it: list[str] = field(default_factory=list)  # active participants: `alice (sre)`
    # Why the delivery cannot be sent (its SRE target left the policy), if so
    refused: str | None = None

    @property
    def to_sre(self) -> bool:
        return self.subscription_id is None


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    final: bool = False  # not worth retrying (PagerDuty's 400: the event is invalid)

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    table = table_of(Delivery)
    for start in range(0, len(rows), INSERT_CHUNK):
        statement = upsert_insert(session, table).values(rows[start : start + INSERT_CHUNK])
        await session.execute(
            statement.on_conflict_do_nothing(index_elements=["event_id", "target_key"])
        )


async def fan_out(session: AsyncSession, *, sre: SreTargets, limit: int) -> int:
    """Fan out up to `limit` events; returns how many events were handled."""
    # An event's data is only read to route it to SRE: decoding it costs, under load.
    data = case((col(OutboxEvent.type).in_(_SRE_EVENTS), col(OutboxEvent.data)), else_=null())
    events = (
        await session.execute(
            select_columns(
                col(OutboxEvent.seq),
                col(OutboxEvent.id),
                col(OutboxEvent.type),
                data,
                col(OutboxEvent.occurred_at),
                col(OutboxEvent.incident_id),
            )
            .where(col(OutboxEvent.fanned_out_at).is_(None))
            .order_by(col(OutboxEvent.seq))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not events:
        return 0
    subscriptions = (
        await session.scalars(select(Subscription).where(col(Subscription.active)))
    ).all()
    now = utcnow()

    def row(
        event_id: uuid.UUID,
        event_type: str,
        url: str,
        *,
        target: str,
        subscription_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "event_id": event_id,
            "event_type": event_type,
            "subscription_id": subscription_id,
            "target_key": target,
            "target_url": url,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }

    engagements = await _engagements(session, events)
    from_catalog = [
        e.policy.removeprefix(CATALOG)
        for e in engagements.values()
        if e.policy and e.policy.startswith(CATALOG)
    ]
    catalog = await catalog_levels(session, from_catalog) if from_catalog else {}
    rows: list[dict[str, Any]] = []
    for _, event_id, event_type, data, occurred_at, incident_id in events:
        for subscription in subscriptions:
            # A subscription receives what happens after it exists, not the backlog.
            if subscription.wants(event_type) and subscription.created_at <= occurred_at:
                rows.append(
                    row(
                        event_id,
                        event_type,
                        subscription.url,
                        target=f"subscription:{subscription.id}",
                        subscription_id=subscription.id,
                    )
                )
        if incident_id in engagements:
            rows.extend(
                row(event_id, event_type, target.url, target=target.key)
                for target in sre.of_event(event_type, data, engagements[incident_id], catalog)
            )
    if rows:
        await _insert_deliveries(session, rows)
    await session.execute(
        update(OutboxEvent)
        .where(col(OutboxEvent.seq).in_([event.seq for event in events]))
        .values(fanned_out_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(events)


def _targets_of(catalog: Mapping[str, Levels]) -> dict[str, Target]:
    """The targets of catalog services' levels, by key."""
    return {
        t.key: t for levels in catalog.values() for level in levels.levels for t in level.targets
    }


async def _engagements(session: AsyncSession, events: Sequence[Any]) -> dict[uuid.UUID, Engagement]:
    """The engagements of the incidents whose events may concern SRE targets."""
    wanted = {event.incident_id for event in events if event.type in _SRE_EVENTS}
    wanted.discard(None)
    if not wanted:
        return {}
    found = await session.scalars(select(Engagement).where(col(Engagement.incident_id).in_(wanted)))
    return {engagement.incident_id: engagement for engagement in found.all()}


async def _on_it(session: AsyncSession, incident_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Who is on each incident now (`alice (sre)`), for messages that show it."""
    if not incident_ids:
        return {}
    rows = await session.execute(
        select(Participant.incident_id, Participant.handle, Participant.role)
        .where(col(Participant.incident_id).in_(incident_ids), col(Participant.left_at).is_(None))
        .order_by(col(Participant.joined_at))
    )
    on_it: dict[uuid.UUID, list[str]] = {}
    for incident_id, handle, role in rows.all():
        on_it.setdefault(incident_id, []).append(f"{handle} ({role})")
    return on_it


async def claim(
    session: AsyncSession, *, lease: timedelta, limit: int, sre: SreTargets, max_attempts: int
) -> list[Job]:
    """Claim up to `limit` due deliveries of active targets for `lease`.

    Each claim counts as an attempt. A delivery whose lease ran out after its last
    allowed attempt (its sender died every time) is dead instead of claimed again.

    Two statements rather than `UPDATE … WHERE id IN (SELECT … LIMIT … SKIP LOCKED)`:
    PostgreSQL may re-run such a subquery when rows change under it and update more
    rows than the limit. The rows selected here stay locked until the commit; the
    update repeats the conditions, which matters on SQLite, where nothing is locked.
    """
    now = utcnow()
    await session.execute(
        update(Delivery)
        .where(
            col(Delivery.status) == DeliveryStatus.DELIVERING,
            col(Delivery.next_attempt_at) <= now,
            col(Delivery.attempts) >= max_attempts,
        )
        .values(
            status=DeliveryStatus.DEAD,
            next_attempt_at=None,
            last_error="interrupted: the last attempt never finished",
        )
        .execution_options(synchronize_session=False)
    )
    active_subscriptions = select(Subscription.id).where(col(Subscription.active))
    due = (
        col(Delivery.status).in_(CLAIMABLE),
        col(Delivery.next_attempt_at) <= now,
        or_(
            col(Delivery.subscription_id).is_(None),
            col(Delivery.subscription_id).in_(active_subscriptions),
        ),
    )
    ids = (
        await session.scalars(
            select(Delivery.id)
            .where(*due)
            .order_by(col(Delivery.next_attempt_at))
            .limit(limit)
            .with_for_update(skip_locked=True, of=Delivery)
        )
    ).all()
    if not ids:
        return []
    claimed = (
        await session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(ids), *due)
            .values(
                status=DeliveryStatus.DELIVERING,
                attempts=col(Delivery.attempts) + 1,
                next_attempt_at=now + lease,
                last_attempt_at=now,
            )
            .returning(
                col(Delivery.id),
                col(Delivery.attempts),
                col(Delivery.event_id),
                col(Delivery.subscription_id),
                col(Delivery.target_url),
                col(Delivery.target_key),
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not claimed:
        return []
    events = {
        event.id: event
        for event in (
            await session.execute(
                select_columns(
                    col(OutboxEvent.id),
                    col(OutboxEvent.type),
                    col(OutboxEvent.occurred_at),
                    col(OutboxEvent.data),
                    col(OutboxEvent.incident_id),
                ).where(col(OutboxEvent.id).in_({row.event_id for row in claimed}))
            )
        ).all()
    }
    wanted = {row.subscription_id for row in claimed if row.subscription_id is not None}
    subscriptions = {
        subscription.id: subscription
        for subscription in (
            await session.scalars(select(Subscription).where(col(Subscription.id).in_(wanted)))
        ).all()
    }
    targets = sre.by_key
    if any(r.subscription_id is None and r.target_key not in targets for r in claimed):
        targets = targets | _targets_of(await catalog_levels(session))
    formats = {
        row.id: Format(subscriptions[row.subscription_id].format)
        if row.subscription_id in subscriptions
        else (targets[row.target_key].format if row.target_key in targets else None)
        for row in claimed
    }
    on_it = await _on_it(
        session,
        {
            events[row.event_id].incident_id
            for row in claimed
            if formats[row.id] not in (None, Format.STANDARD_WEBHOOKS)
            and events[row.event_id].incident_id is not None
        },
    )
    jobs: list[Job] = []
    for row in claimed:
        event = events[row.event_id]
        common: dict[str, Any] = {
            "delivery_id": row.id,
            "attempt": row.attempts,
            "subscription_id": row.subscription_id,
            "event_type": event.type,
            "occurred_at": event.occurred_at,
            "data": event.data,
            "incident_id": event.incident_id,
            "on_it": on_it.get(event.incident_id, []),
        }
        if row.subscription_id is not None:
            subscription = subscriptions[row.subscription_id]
            jobs.append(
                Job(
                    url=subscription.url,
                    key=decode_secret(subscription.secret),
                    body_format=Format(subscription.format),
                    **common,
                )
            )
            continue
        target = targets.get(row.target_key)
        if target is None:
            refused = "the target is no longer in the escalation policy"
            jobs.append(
                Job(
                    url=row.target_url,
                    key=None,
                    body_format=Format.STANDARD_WEBHOOKS,
                    refused=refused,
                    **common,
                )
            )
            continue
        jobs.append(
            Job(
                url=target.url,
                key=decode_secret(target.secret.get_secret_value()) if target.secret else None,
                body_format=target.format,
                routing_key=target.routing_key.get_secret_value() if target.routing_key else None,
                **common,
            )
        )
    return jobs


async def _claimed(session: AsyncSession, job: Job) -> Delivery | None:
    return await session.scalar(
        select(Delivery)
        .where(
            col(Delivery.id) == job.delivery_id,
            col(Delivery.status) == DeliveryStatus.DELIVERING,
            col(Delivery.attempts) == job.attempt,
        )
        .with_for_update()
    )


async def record(
    session: AsyncSession, job: Job, outcome: Outcome, *, policy: RetryPolicy
) -> Delivery | None:
    """Store one attempt's outcome; None when the claim was lost meanwhile."""
    delivery = await _claimed(session, job)
    if delivery is None:
        return None
    now = utcnow()
    delivery.target_url = job.url
    delivery.response_code = outcome.status_code
    delivery.duration_ms = outcome.duration_ms
    if outcome.delivered:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
        delivery.next_attempt_at = None
    elif outcome.status_code == 410:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        delivery.last_error = "HTTP 410 Gone: the receiver asked not to be sent any more"
        if job.subscription_id is not None:
            await _disable(session, job.subscription_id, now)
    else:
        delivery.last_error = (outcome.error or "")[:1000]
        if outcome.final or delivery.attempts >= policy.max_attempts:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.DEAD, None
        else:
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=policy.delay(delivery.attempts))
    await session.flush()
    return delivery


async def record_delivered(
    session: AsyncSession, sent: Sequence[tuple[Job, Outcome]]
) -> set[uuid.UUID]:
    """Store attempts that were delivered (`record` for each, at once, one statement on
    PostgreSQL); the ids of the deliveries recorded: each is fenced by its claim (still
    `delivering`, at the attempt claimed), so a claim lost meanwhile records nothing."""
    assert all(outcome.delivered for _, outcome in sent)
    rows = [
        {
            "id": job.delivery_id,
            "attempts": job.attempt,
            "target_url": job.url,
            "response_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
        }
        for job, outcome in sent
    ]
    delivered = {
        "status": DeliveryStatus.DELIVERED.value,
        "delivered_at": utcnow(),
        "next_attempt_at": None,
    }
    return await update_each(
        session,
        table_of(Delivery),
        rows,
        keys=("id", "attempts"),
        where={"status": DeliveryStatus.DELIVERING.value},
        values=delivered,
    )


async def _disable(session: AsyncSession, subscription_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(Subscription)
        .where(col(Subscription.id) == subscription_id)
        .values(
            active=False,
            disabled_reason=f"The receiver answered 410 Gone at {now.isoformat()}",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


async def release(session: AsyncSession, jobs: Sequence[Job]) -> int:
    """Hand unfinished deliveries back as pending and due now; their attempt still counts."""
    released = 0
    for job in jobs:
        delivery = await _claimed(session, job)
        if delivery is not None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, utcnow()
            delivery.last_error = "interrupted: the dispatcher shut down during the attempt"
            released += 1
    await session.flush()
    return released
