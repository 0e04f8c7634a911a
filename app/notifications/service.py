"""Subscriptions and their deliveries, as the API manages them."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import idempotency
from app.core.api import API_PREFIX
from app.core.clock import utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, Rows, paginate
from app.core.security import check_outbound_url
from app.core.settings import Settings
from app.notifications.models import Delivery, DeliveryStatus, Subscription
from app.notifications.schemas import SubscriptionCreate, SubscriptionUpdate
from app.notifications.signing import generate_secret

REDELIVERABLE = (DeliveryStatus.FAILED, DeliveryStatus.DEAD)


class SubscriptionNotFound(NotFound):
    pass


class DeliveryNotFound(NotFound):
    pass


class NotRedeliverable(Conflict):
    code, title = "not-redeliverable", "Delivery cannot be redelivered now"


async def create_subscription(
    session: AsyncSession, data: SubscriptionCreate, *, settings: Settings
) -> Subscription:
    subscription = Subscription(
        url=check_outbound_url(data.url, settings),
        events=data.events,
        format=data.format,
        secret=data.secret or generate_secret(),
        active=data.active,
        description=data.description,
    )
    session.add(subscription)
    await session.flush()
    return subscription


def subscription_location(subscription_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/subscriptions/{subscription_id}"


async def list_subscriptions(session: AsyncSession, page: PageParams) -> Rows[Subscription]:
    return await paginate(
        session, select(Subscription), page, col(Subscription.created_at), col(Subscription.id)
    )


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False
) -> Subscription:
    statement = select(Subscription).where(col(Subscription.id) == subscription_id)
    if for_update:
        statement = statement.with_for_update()
    subscription = await session.scalar(statement)
    if subscription is None:
        raise SubscriptionNotFound(f"No subscription {subscription_id}")
    return subscription


async def update_subscription(
    session: AsyncSession,
    subscription: Subscription,
    changes: SubscriptionUpdate,
    *,
    settings: Settings,
) -> Subscription:
    sent = changes.model_fields_set
    if changes.url is not None:
        changes.url = check_outbound_url(changes.url, settings)
    for field in sent:
        setattr(subscription, field, getattr(changes, field))
    if changes.active:
        subscription.disabled_reason = None
    subscription.updated_at = utcnow()
    await session.flush()
    return subscription


async def delete_subscription(session: AsyncSession, subscription: Subscription) -> None:
    """Delete it with its delivery history; deliveries in flight are dropped.

    The idempotency record of its creation goes too: it holds the signing secret.
    """
    await idempotency.forget(session, subscription_location(subscription.id))
    await session.delete(subscription)
    await session.flush()


async def list_deliveries(
    session: AsyncSession,
    subscription: Subscription,
    page: PageParams,
    *,
    statuses: list[DeliveryStatus] | None,
) -> Rows[Delivery]:
    statement = select(Delivery).where(col(Delivery.subscription_id) == subscription.id)
    if statuses:
        statement = statement.where(col(Delivery.status).in_(statuses))
    return await paginate(session, statement, page, col(Delivery.created_at), col(Delivery.id))


async def redeliver(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery:
    """Put a failed or dead delivery back in the queue, due now, with its attempts kept.

    The attempt counter is not reset, so a redelivery that fails again at or past the
    attempt limit goes straight back to `dead`: one manual retry per request.
    """
    delivery = await session.scalar(
        select(Delivery).where(col(Delivery.id) == delivery_id).with_for_update()
    )
    if delivery is None:
        raise DeliveryNotFound(f"No delivery {delivery_id}")
    if delivery.status not in REDELIVERABLE:
        raise NotRedeliverable(
            f"Delivery {delivery_id} is {delivery.status}; only failed or dead ones are "
            "redelivered",
            extra={"delivery_status": delivery.status},
        )
    if delivery.subscription_id is not None:
        subscription = await get_subscription(session, delivery.subscription_id)
        if not subscription.active:
            raise NotRedeliverable(
                f"Subscription {subscription.id} is inactive; set `active` to true first",
                extra={"disabled_reason": subscription.disabled_reason},
            )
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = utcnow()
    await session.flush()
    return delivery
