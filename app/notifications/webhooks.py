"""The OpenAPI `webhooks` section: one entry per event type, generated from its model.

These operations are documentation only: they describe the POST Muster makes to a
subscriber. Each body's `data` is the event's own model (`app/*/events.py`), the one
`emit` serializes, so the documentation cannot drift from what is sent.
"""

import inspect
import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, FastAPI, Header, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, create_model

from app.action_items.events import ActionItemOverdue, ActionItemUpdated
from app.core.events import DomainEvent, EventType
from app.deploys.events import DeployRecorded, DeployUnprotected
from app.engagement.events import IncidentEscalated
from app.incidents.events import (
    IncidentCreated,
    IncidentMerged,
    IncidentStatusChanged,
    IncidentUpdated,
)
from app.participants.events import ParticipantJoined, ParticipantLeft
from app.retrospectives.events import PostmortemPublished
from app.rollbacks.events import (
    RollbackReviewDecided,
    RollbackReviewExecuted,
    RollbackReviewRequested,
)
from app.status_updates.events import IncidentUpdateDue, StatusUpdatePublished
from app.timeline.events import TimelineEventAdded, TimelineEventDeleted, TimelineEventUpdated

# Every event type's `data` model, in the catalogue's order; the docstring describes it.
EVENTS: tuple[type[DomainEvent], ...] = (
    IncidentCreated,
    IncidentUpdated,
    IncidentStatusChanged,
    IncidentEscalated,
    ParticipantJoined,
    ParticipantLeft,
    TimelineEventAdded,
    TimelineEventUpdated,
    TimelineEventDeleted,
    RollbackReviewRequested,
    RollbackReviewDecided,
    RollbackReviewExecuted,
    DeployRecorded,
    ActionItemUpdated,
    ActionItemOverdue,
    DeployUnprotected,
    PostmortemPublished,
    IncidentMerged,
    StatusUpdatePublished,
    IncidentUpdateDue,
)
if [event.type for event in EVENTS] != list(EventType):
    raise RuntimeError("EVENTS must hold one model per EventType, in its order")


COMMON = """

Sent as `POST` with a JSON body `{"type", "timestamp", "data"}` (subscriptions in
`slack` format get a Block Kit message `{"text", "blocks"}` instead, `msteams` an Adaptive
Card message, signed the same way; SRE targets also get `links.join`). Headers per the
Standard Webhooks spec: `webhook-id` (the delivery id, the same on every retry:
deduplicate on it), `webhook-timestamp` (unix seconds of this attempt) and
`webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the
base64-decoded part of the `whsec_` secret). Any 2xx acknowledges; 410 disables the
subscription; anything else (or no answer within the timeout) is retried with
exponential backoff until the attempt limit, after which the delivery is `dead`."""

WebhookId = Annotated[str, Header(alias="webhook-id", description="Delivery id; deduplicate")]
WebhookTimestamp = Annotated[
    str, Header(alias="webhook-timestamp", description="Unix seconds of this attempt")
]
WebhookSignature = Annotated[
    str, Header(alias="webhook-signature", description="`v1,<base64 HMAC-SHA256>`")
]


def envelope(event: EventType, data: type[BaseModel]) -> type[BaseModel]:
    """The body model of one event type, e.g. `IncidentCreatedWebhook`."""
    name = "".join(part.title() for part in event.value.replace(".", "_").split("_"))
    event_type: Any = Literal[event.value]
    return create_model(
        f"{name}Webhook",
        __doc__=f"The body of a `{event.value}` webhook (standard-webhooks format).",
        type=(event_type, ...),
        timestamp=(datetime, Field(description="When the event happened (RFC 3339)")),
        data=(data, ...),
    )


def _receiver(body_model: type[BaseModel]) -> Callable[..., Coroutine[Any, Any, None]]:
    async def receive(**_: Any) -> None:
        """Documentation only."""

    parameters = [
        inspect.Parameter(
            "body", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[body_model, Body()]
        ),
        inspect.Parameter("webhook_id", inspect.Parameter.KEYWORD_ONLY, annotation=WebhookId),
        inspect.Parameter(
            "webhook_timestamp", inspect.Parameter.KEYWORD_ONLY, annotation=WebhookTimestamp
        ),
        inspect.Parameter(
            "webhook_signature", inspect.Parameter.KEYWORD_ONLY, annotation=WebhookSignature
        ),
    ]
    receive.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return receive


def _operation_id(route: APIRoute) -> str:
    return "webhooks-" + route.name


def webhooks() -> APIRouter:
    """A router whose routes FastAPI renders as the document's `webhooks`."""
    router = APIRouter(generate_unique_id_function=_operation_id)
    for data in EVENTS:
        event, description = data.type, " ".join((inspect.getdoc(data) or "").split())
        router.add_api_route(
            event.value,
            _receiver(envelope(event, data)),
            methods=["POST"],
            name=event.value.replace(".", "-").replace("_", "-"),
            tags=["webhooks"],
            summary=event.value,
            description=description + COMMON,
            response_class=Response,
            responses={
                200: {"description": "Any 2xx: delivered"},
                410: {"description": "Gone: Muster disables the subscription"},
                "default": {"description": "Anything else, or no answer in time: retried"},
            },
        )
    return router


# Response models that webhook bodies reuse. FastAPI documents a body in validation
# mode, which would give each an `-Input` twin without its computed fields (e.g.
# `allowed_transitions`); a webhook carries the serialized form, so refer to that.
REUSED = ("IncidentOut", "ParticipantOut", "EntryOut", "ReviewOut")


def _serialized_forms(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    twins = [name for name in REUSED if f"{name}-Input" in schemas and f"{name}-Output" in schemas]
    if not twins:
        return document
    text = json.dumps(document)
    for name, suffix in ((name, suffix) for name in twins for suffix in ("-Input", "-Output")):
        text = text.replace(
            f'"#/components/schemas/{name}{suffix}"', f'"#/components/schemas/{name}"'
        )
    fixed: dict[str, Any] = json.loads(text)
    schemas = fixed["components"]["schemas"]
    for name in twins:
        del schemas[f"{name}-Input"]
        schemas[name] = schemas.pop(f"{name}-Output")
    fixed["components"]["schemas"] = dict(sorted(schemas.items()))
    return fixed


def document_webhooks(app: FastAPI) -> None:
    """Make `app.openapi()` show webhook payloads as Muster serializes them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        app.openapi_schema = _serialized_forms(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
