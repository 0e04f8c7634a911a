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

import hashlib
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import null, or_, update
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.clock import utcnow
from app.core.db import table_of, upsert_insert
from app.core.events import OutboxEvent
from app.notifications.formats import concerns_sre
from app.notifications.models import CLAIMABLE, Delivery, DeliveryStatus, Format, Subscription
from app.notifications.signing import decode_secret

INSERT_CHUNK = 500


@dataclass(frozen=True)
class SreTargets:
    """Where every new incident (and a raise to sev1/sev2) goes without a subscription."""

    urls: tuple[str, ...]
    key: bytes | None

    @staticmethod
    def target_key(url: str) -> str:
        return "sre:" + hashlib.sha256(url.encode()).hexdigest()[:40]


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


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

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
    data = col(OutboxEvent.data) if sre.urls else null()
    events = (
        await session.execute(
            select_columns(
                col(OutboxEvent.seq),
                col(OutboxEvent.id),
                col(OutboxEvent.type),
                data,
                col(OutboxEvent.occurred_at),
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

    rows: list[dict[str, Any]] = []
    for _, event_id, event_type, data, occurred_at in events:
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
        if sre.urls and concerns_sre(event_type, data):
            rows.extend(
                row(event_id, event_type, url, target=SreTargets.target_key(url))
                for url in sre.urls
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
                select(
                    OutboxEvent.id, OutboxEvent.type, OutboxEvent.occurred_at, OutboxEvent.data
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
    jobs: list[Job] = []
    for row in claimed:
        event = events[row.event_id]
        subscription = subscriptions.get(row.subscription_id) if row.subscription_id else None
        jobs.append(
            Job(
                delivery_id=row.id,
                attempt=row.attempts,
                subscription_id=row.subscription_id,
                url=subscription.url if subscription else row.target_url,
                key=decode_secret(subscription.secret) if subscription else sre.key,
                body_format=Format(subscription.format)
                if subscription
                else Format.STANDARD_WEBHOOKS,
                event_type=event.type,
                occurred_at=event.occurred_at,
                data=event.data,
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
        if delivery.attempts >= policy.max_attempts:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.DEAD, None
        else:
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=policy.delay(delivery.attempts))
    await session.flush()
    return delivery


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
