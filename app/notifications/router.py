"""Subscriptions and deliveries (scope `subscriptions:admin`), and the live event stream."""

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.core.api import API_PREFIX
from app.core.db import DatabaseDep, SessionDep, SettingsDep
from app.core.errors import (
    PROBLEM_JSON,
    AppError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    Unauthorized,
    responses,
)
from app.core.events import EventType
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import Page, PageDep
from app.core.security import AdminSubscriptions, AuthenticatedRoute, ReadIncidents
from app.notifications import service, stream
from app.notifications.models import DeliveryStatus
from app.notifications.schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionUpdate,
)
from app.notifications.service import DeliveryNotFound, NotRedeliverable, SubscriptionNotFound

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/subscriptions",
    tags=["subscriptions"],
    responses=responses(Unauthorized, Forbidden),
)
deliveries_router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/deliveries",
    tags=["deliveries"],
    responses=responses(Unauthorized, Forbidden),
)
events_router = APIRouter(
    route_class=AuthenticatedRoute, prefix=f"{API_PREFIX}/events", tags=["events"]
)

RECONNECT_MS = 2000


def _stream_problems(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """Like `responses`, but a streaming route's errors are still problem+json documents."""
    schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        status_code: {"description": entry["description"], "content": {PROBLEM_JSON: schema}}
        for status_code, entry in responses(*errors).items()
    }


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionCreated,
    responses=responses(InvalidInput, IdempotencyKeyReused),
)
async def create_subscription(
    body: SubscriptionCreate,
    session: SessionDep,
    settings: SettingsDep,
    _: AdminSubscriptions,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Subscribe a URL to events; the response holds the signing secret, shown this once."""
    subscription = await service.create_subscription(session, body, settings=settings)
    return await idempotency.respond(
        SubscriptionCreated.of(subscription),
        status_code=201,
        headers={
            "Location": service.subscription_location(subscription.id),
            "Cache-Control": "no-store",
        },
    )


@router.get("", response_model=Page[SubscriptionOut], responses=responses(InvalidInput))
async def list_subscriptions(
    session: SessionDep, page: PageDep, _: AdminSubscriptions
) -> Page[SubscriptionOut]:
    """List subscriptions, newest first, without their secrets."""
    rows = await service.list_subscriptions(session, page)
    return rows.to_page(SubscriptionOut.of)


@router.get(
    "/{subscription_id}", response_model=SubscriptionOut, responses=responses(SubscriptionNotFound)
)
async def get_subscription(
    subscription_id: uuid.UUID, session: SessionDep, _: AdminSubscriptions
) -> SubscriptionOut:
    """One subscription, without its secret."""
    return SubscriptionOut.of(await service.get_subscription(session, subscription_id))


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    responses=responses(SubscriptionNotFound, InvalidInput),
)
async def update_subscription(
    subscription_id: uuid.UUID,
    body: SubscriptionUpdate,
    session: SessionDep,
    settings: SettingsDep,
    _: AdminSubscriptions,
) -> SubscriptionOut:
    """Change the URL, events, format or secret; pause or resume with `active`."""
    subscription = await service.get_subscription(session, subscription_id, for_update=True)
    updated = await service.update_subscription(session, subscription, body, settings=settings)
    return SubscriptionOut.of(updated)


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(SubscriptionNotFound),
)
async def delete_subscription(
    subscription_id: uuid.UUID, session: SessionDep, _: AdminSubscriptions
) -> Response:
    """Delete a subscription and its delivery history; nothing more is sent to it."""
    subscription = await service.get_subscription(session, subscription_id, for_update=True)
    await service.delete_subscription(session, subscription)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[DeliveryOut],
    responses=responses(SubscriptionNotFound, InvalidInput),
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    session: SessionDep,
    page: PageDep,
    _: AdminSubscriptions,
    status_: Annotated[
        list[DeliveryStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
) -> Page[DeliveryOut]:
    """The subscription's deliveries, newest first, with attempts and the last error."""
    subscription = await service.get_subscription(session, subscription_id)
    rows = await service.list_deliveries(session, subscription, page, statuses=status_)
    return rows.to_page(DeliveryOut.of)


@deliveries_router.post(
    "/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=responses(DeliveryNotFound, NotRedeliverable),
)
async def redeliver(
    delivery_id: uuid.UUID, session: SessionDep, _: AdminSubscriptions
) -> JSONResponse:
    """Queue a failed or dead delivery again, due now (one more attempt, same `webhook-id`)."""
    delivery = await service.redeliver(session, delivery_id)
    return JSONResponse(DeliveryOut.of(delivery).model_dump(mode="json"), status_code=202)


async def _start(
    _: ReadIncidents,  # the caller first: a stranger learns nothing from the position check
    session: SessionDep,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="Resume after this position (an `id:` this stream sent) or event id; "
            "without it the stream starts with events committed from now on",
        ),
    ] = None,
) -> stream.Cursor:
    if last_event_id is None:
        return await stream.tail(session)
    cursor = stream.Cursor.parse(last_event_id)
    if cursor is None:
        try:
            cursor = await stream.cursor_of(session, uuid.UUID(last_event_id.strip()))
        except ValueError:
            cursor = None
    if cursor is None:
        raise InvalidInput(
            "Last-Event-ID is neither a position this stream sent nor a known event id",
            errors=[
                FieldProblem(
                    field="header.Last-Event-ID", message="unknown position", type="cursor"
                )
            ],
        )
    return cursor


@events_router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses=_stream_problems(Unauthorized, Forbidden, InvalidInput),
)
async def stream_events(
    database: DatabaseDep,
    settings: SettingsDep,
    start: Annotated[stream.Cursor, Depends(_start)],
    _: ReadIncidents,
    types: Annotated[
        list[EventType] | None, Query(alias="type", description="Only these; repeat for several")
    ] = None,
    once: Annotated[
        bool, Query(description="Send what is there after the position, then close")
    ] = False,
    max_events: Annotated[
        int | None, Query(ge=1, le=10_000, description="Close after this many events")
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Domain events as Server-Sent Events (`id`, `event` = type, JSON `data`); resumable."""
    quiet_since = time.monotonic()
    async for item in stream.follow(
        database,
        start,
        types=types,
        poll_seconds=settings.dispatch_poll_seconds,
        once=once,
        max_events=max_events,
    ):
        if item is None:
            if time.monotonic() - quiet_since >= settings.stream_heartbeat_seconds:
                yield ServerSentEvent(comment="heartbeat")
                quiet_since = time.monotonic()
            continue
        if item.event is None:
            yield ServerSentEvent(id=str(item.cursor), retry=RECONNECT_MS)
        else:
            yield ServerSentEvent(
                id=str(item.cursor), event=item.event.type, raw_data=item.event.model_dump_json()
            )
        quiet_since = time.monotonic()
